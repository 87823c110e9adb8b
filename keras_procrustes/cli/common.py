"""What the commands share: one-line errors and exit codes.

Exit codes: 0 done; 2 a user error (a bad option, missing data, a run folder
that can't be used or that another process writes, a full disk, a diverged
run, an extra that is not installed), said in one line that names the option
and its value, with no traceback; 130 Ctrl-C, said in one line with the
command that resumes. The line starts on a line of its own, after a progress
bar cut short, and once a command has written it a further Ctrl-C is ignored
while the process exits.
"""

import argparse
import contextlib
import shlex
import signal
import sys
import threading

from keras_procrustes.optional import MissingExtraError
from keras_procrustes.quiet import started_as_command


class CommandError(Exception):
    """A user error a command states in one line, as it is (exit code 2)."""


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line and exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def fail(parser, message):
    """Ends the command with one error line and exit code 2."""
    _last_line(parser, 2, f"{parser.prog}: error: {message}\n")


def _last_line(parser, code, line):
    """Ends the command: `line` on stderr at the start of a line, exit `code`."""
    if getattr(sys.stdout, "line_open", False):
        sys.stdout.write("\n")  # end the progress bar's line first
        sys.stdout.flush()
    if started_as_command() and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # no traceback from a Ctrl-C at exit
    parser.exit(code, line)


class _LineWatch:
    """Stdout as it is, knowing whether its last line is still open (a progress bar)."""

    def __init__(self, stream):
        self._stream = stream
        self.line_open = False

    def write(self, text):
        if text:
            self.line_open = not text.endswith("\n")
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _watched_stdout():
    """`sys.stdout` as a `_LineWatch` while the command runs."""
    previous = sys.stdout
    sys.stdout = _LineWatch(previous)
    try:
        yield
    finally:
        sys.stdout = previous


def run_command(make_parser, run, argv=None, prog=None, resume=None):
    """Parses `argv` and runs it; user errors end in one line and exit 2.

    Args:
        make_parser: a function returning the command's `Parser`; its flags
            come from the training side's config classes, so a missing
            extra can show while it is made.
        run: a function of the parsed options.
        argv: arguments, default `sys.argv[1:]`.
        prog: the command's name, for an error before the parser exists.
        resume: a function of the parsed options and the `KeyboardInterrupt`
            giving the arguments that resume the work (for the Ctrl-C
            line); `None` to say "rerun the same command".

    Returns:
        The exit code, 0.
    """
    try:
        parser = make_parser()
    except MissingExtraError as error:
        fail(Parser(prog=prog), str(error))
    args = parser.parse_args(argv)
    try:
        option_error, user_errors = _user_errors()
    except MissingExtraError as error:
        fail(parser, str(error))
    with _watched_stdout():
        try:
            run(args)
        except KeyboardInterrupt as error:
            _interrupted(parser, args, error, resume, argv)
        except MissingExtraError as error:
            fail(parser, str(error))
        except option_error as error:
            fail(parser, error.for_command_line())
        except user_errors as error:
            # Errors the library also raises to its callers may carry their
            # command-line spelling (e.g. `--data-dir PATH` for `data_dir=...`).
            for_command_line = getattr(error, "for_command_line", None)
            fail(parser, for_command_line() if for_command_line else str(error))
    return 0


def _interrupted(parser, args, error, resume, argv):
    """Ends a command stopped by Ctrl-C: one line, the command that resumes, exit 130."""
    where = str(error) or "interrupted"
    words = resume(args, error) if resume else (sys.argv[1:] if argv is None else argv)
    command = shlex.join(_invocation(parser.prog, argv) + list(words))
    _last_line(parser, 130, f"{parser.prog}: {where}. Resume with: {command}\n")


def _invocation(prog, argv):
    """How the command was started: `python -m MODULE` or its name."""
    started = getattr(sys, "orig_argv", [])
    if argv is None and len(started) > 2 and started[1] == "-m":
        return started[:3]
    return [prog]


def _user_errors():
    """The option error class and the other user errors, from the library.

    Importing them imports the training side, so a missing extra shows here.
    """
    from keras_procrustes.data import DataSourceError
    from keras_procrustes.training.errors import OptionError
    from keras_procrustes.training.errors import RunStateError

    return OptionError, (CommandError, DataSourceError, RunStateError, FloatingPointError)
