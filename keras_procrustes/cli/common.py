"""What the commands share: one-line errors and exit codes.

Exit codes: 0 done; 2 a user error (a bad option, missing data, a run folder
that can't be used, a diverged run, an extra that is not installed), said in
one line that names the option and its value, with no traceback.
"""

import argparse

from keras_procrustes.optional import MissingExtraError


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line and exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def fail(parser, message):
    """Ends the command with one error line and exit code 2."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")


def run_command(parser, run, argv=None):
    """Parses `argv` and runs it; user errors end in one line and exit 2.

    Args:
        parser: the command's `Parser`.
        run: a function of the parsed options.
        argv: arguments, default `sys.argv[1:]`.

    Returns:
        The exit code, 0.
    """
    args = parser.parse_args(argv)
    try:
        option_error, user_errors = _user_errors()
    except MissingExtraError as error:
        fail(parser, str(error))
    try:
        run(args)
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


def _user_errors():
    """The option error class and the other user errors, from the library.

    Importing them imports the training side, so a missing extra shows here.
    """
    from keras_procrustes.data import DataSourceError
    from keras_procrustes.training.checkpoints import RunStateError
    from keras_procrustes.training.errors import OptionError

    return OptionError, (DataSourceError, RunStateError, FloatingPointError)


def add_data_arguments(parser):
    """Options shared by `train` and `tune`: data, devices, seed, verbosity."""
    add = parser.add_argument
    add("--dataset", default="cifar10", help="cifar10, cifar100 or fashion_mnist")
    add("--data-dir", default=None, help="folder or archive with a local copy")
    add("--no-download", action="store_true", help="never download with tfds")
    add("--max-train-examples", type=int, default=None, help="for short runs")
    add("--max-test-examples", type=int, default=None, help="for short runs")
    add("--image-size", type=int, default=None, help="pad/resize, e.g. 32")
    add("--channels", type=int, default=None, help="3 turns grey images into RGB")
    add("--cpu-replicas", type=int, default=0,
        help="train on N logical CPU devices, to try multi-replica training without "
        "GPUs: MirroredStrategy on TensorFlow; DataParallel on JAX (the train command "
        "only, with --projection-engine newton_schulz); refused on torch (one device)")
    add("--seed", type=int, default=0)
    add("--verbose", type=int, default=1, help="0, 1 (progress bar) or 2 (a line per epoch)")


def data_options(args):
    """The `TrainingConfig` fields of `add_data_arguments`' options."""
    return {
        "dataset": args.dataset, "data_dir": args.data_dir, "download": not args.no_download,
        "max_train_examples": args.max_train_examples,
        "max_test_examples": args.max_test_examples, "image_size": args.image_size,
        "channels": args.channels, "cpu_replicas": args.cpu_replicas, "seed": args.seed,
        "verbose": args.verbose,
    }
