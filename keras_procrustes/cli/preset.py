"""`keras-procrustes-preset RUN_DIR PRESET_DIR` (or `python -m keras_procrustes.cli.preset`).

Makes a run folder of `keras-procrustes-train` a keras-hub preset directory
(`keras_procrustes.hub.save_run_as_preset`): `best.keras`'s weights, the
data statistics, the class names and a model card. Errors are one line,
exit code 2.
"""

import sys

from keras_procrustes.cli import common
from keras_procrustes.optional import MissingExtraError

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


def main(argv=None):
    """Entry point of the command.

    Args:
        argv: arguments, default `sys.argv[1:]`.

    Returns:
        The exit code, 0 (errors exit 2 with one line).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from keras_procrustes import hub
    except MissingExtraError as error:
        common.fail(parser, str(error))
    names = None if args.class_names is None else args.class_names.split(",")
    try:
        hub.save_run_as_preset(args.run_dir, args.preset_dir, class_names=names)
    except ValueError as error:  # PresetError, and class names of the wrong count
        common.fail(parser, str(error).splitlines()[0])
    print(f"{PROG}: wrote {args.preset_dir}")
    return 0


def main_script():
    """The console script: exits with `main()`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
