"""The commands start quiet: TensorFlow's start-up lines only when the user asks.

As TensorFlow's libraries load they write lines to stderr (absl's "before
InitializeLog", oneDNN, CUDA drivers) that `TF_CPP_MIN_LOG_LEVEL` does not
hold back, and later ones (cuInit) that it does. A command started without
`TF_CPP_MIN_LOG_LEVEL` sets it to 3 and imports TensorFlow with its stderr
held aside; set the variable (e.g. `TF_CPP_MIN_LOG_LEVEL=0`) to see them all.
Imported and used as a library, the package changes nothing.
"""

import os
import subprocess
import sys

COMMANDS = ("keras-procrustes-train", "keras-procrustes-tune", "keras-procrustes-preset")
MODULES = ("keras_procrustes.cli.train", "keras_procrustes.cli.tune", "keras_procrustes.cli.preset")
LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
# The keeper: what it reads until its pipe closes, written out then.
_KEEPER = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"


def started_as_command():
    """Whether this process is one of the commands (a console script or `python -m`)."""
    argv = list(getattr(sys, "orig_argv", []))
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1] in MODULES
    script = os.path.splitext(os.path.basename(sys.argv[0] if sys.argv else ""))[0]
    return script in COMMANDS  # a console script (`.exe` on Windows)


def quiet_tensorflow():
    """For a command whose user did not set `TF_CPP_MIN_LOG_LEVEL`: TensorFlow loads quietly.

    What TensorFlow writes while it is imported goes to a small keeper
    process, which writes it to the real stderr when its pipe closes: when
    the import fails, or when TensorFlow ends the process (an `abort()` on a
    CPU it was not built for, a crash), so its own last words are never
    lost. After a clean import the keeper is stopped and its text dropped.
    """
    if not started_as_command() or LOG_LEVEL in os.environ or "tensorflow" in sys.modules:
        return
    os.environ[LOG_LEVEL] = "3"
    sys.stderr.flush()
    keeper = subprocess.Popen([sys.executable, "-I", "-c", _KEEPER], stdin=subprocess.PIPE,
                              stdout=2)
    stderr = os.dup(2)
    os.dup2(keeper.stdin.fileno(), 2)
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass  # no TensorFlow: the command names the missing extra itself
    else:
        keeper.kill()
    finally:
        os.dup2(stderr, 2)
        os.close(stderr)
        keeper.stdin.close()
        keeper.wait()
