"""What the tests that start processes share: the repository root, a free port, a child's environment."""

import os
import signal
import socket

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_env(**extra):
    """The environment of a child process: this one's, quiet TensorFlow logs,
    unbuffered output, this checkout first on the path, plus `extra`."""
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1", PYTHONPATH=ROOT,
                **extra)


def takes_ctrl_c():
    """A `preexec_fn`: the child takes SIGINT as a terminal's foreground command does.

    A pytest-xdist worker ignores SIGINT, and a child inherits that (Python
    then installs no `KeyboardInterrupt` handler), as a command started with
    `&` from a script does.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
