"""`keras-procrustes-preset RUN_DIR PRESET_DIR` (or `python -m keras_procrustes.cli.preset`).

Makes a run folder of `keras-procrustes-train` a keras-hub preset directory
(`keras_procrustes.hub.save_run_as_preset`): `best.keras`'s weights, the
data statistics, the class names and a model card. Errors are one line,
exit code 2.
"""

import sys

from keras_procrustes.cli import common

PROG = "keras-procrustes-preset"


def build_parser():
    """The command-line parser.

    Returns:
        A `common.Parser`.
    """
    parser = common.Parser(
        prog=PROG,
        description="Make a training run's best model a keras-hub preset "
        "directory, loadable with keras_hub.models.ImageClassifier.from_preset.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR",
                        help="a run folder of keras-procrustes-train (with best.keras)")
    parser.add_argument("preset_dir", metavar="PRESET_DIR",
                        help="a new or empty directory for the preset")
    parser.add_argument("--class-names", default=None,
                        help="the classes' names, comma-separated in label order "
                        "(default: the data set's)")
    return parser


def run(args):
    """Writes the preset of `args.run_dir` to `args.preset_dir`.

    Raises:
        PresetError: (a ValueError) naming the file at fault; a ValueError
            for class names of the wrong count.
        OSError: when the preset can't be written (permissions, a full disk).
    """
    from keras_procrustes import hub

    names = None if args.class_names is None else args.class_names.split(",")
    try:
        hub.save_run_as_preset(args.run_dir, args.preset_dir, class_names=names)
    except (ValueError, OSError) as error:
        raise common.CommandError(str(error).splitlines()[0]) from None
    print(f"{PROG}: wrote {args.preset_dir}")


def main(argv=None):
    """Entry point of the command.

    Args:
        argv: arguments, default `sys.argv[1:]`.

    Returns:
        The exit code, 0 (errors exit 2 with one line; Ctrl-C exits 130).
    """
    return common.run_command(build_parser, run, argv, prog=PROG)


def main_script():
    """The console script: exits with `main()`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
