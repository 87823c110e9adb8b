"""What the commands share: one-line errors and exit codes.

Exit codes: 0 done; 2 a user error (a bad option, missing data, a run folder
that can't be used or that another process writes, a full disk, a diverged
run, an extra that is not installed), said in one line that names the option
and its value, with no traceback; 130 Ctrl-C, said in one line with the
command that resumes.
"""

import argparse
import shlex
import sys

from keras_procrustes.optional import MissingExtraError


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line and exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def fail(parser, message):
    """Ends the command with one error line and exit code 2."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")


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
    parser.exit(130, f"{parser.prog}: {where}. Resume with: {command}\n")


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
    from keras_procrustes.training.checkpoints import RunStateError
    from keras_procrustes.training.errors import OptionError

    return OptionError, (DataSourceError, RunStateError, FloatingPointError)
