"""`keras-procrustes-tune` (or `python -m keras_procrustes.cli.tune`).

A keras-tuner search (random, Hyperband or Bayesian) over Procrustes ResNets
with the training pipeline. Trials, a TensorBoard folder per trial, the best
hyperparameters (JSON) and the best model (`best.keras`) land in
`--directory/--project-name`. The same command again resumes an interrupted
search; `--overwrite` starts over, deleting only the search's own files. The
flags are `SearchConfig`'s fields, with its defaults; the search checks them
(`SearchConfig.check`).
"""

import sys

from keras_procrustes.cli import common
from keras_procrustes.cli import flags

PROG = "keras-procrustes-tune"


def build_parser():
    """The command-line parser, its flags generated from `SearchConfig`.

    Returns:
        A `common.Parser`.

    Raises:
        MissingExtraError: without the `train` extra.
    """
    from keras_procrustes.training.search.config import SearchConfig

    parser = common.Parser(
        prog=PROG,
        description="Search Procrustes ResNet hyperparameters with keras-tuner.",
    )
    return flags.add_flags(parser, SearchConfig)


def run(args):
    """Runs the search the parsed options describe; returns the best values."""
    from keras_procrustes.training.search.config import SearchConfig
    from keras_procrustes.training.search.driver import search

    _, best = search(SearchConfig(**flags.config_values(args, SearchConfig)))
    if best is None:
        print("[keras_procrustes] no trials left; the chief writes the results", flush=True)
    else:
        print(f"[keras_procrustes] best hyperparameters {best}", flush=True)
    return best


def resume_arguments(args, interrupt):
    """The arguments that resume a search stopped by Ctrl-C: the same, without `--overwrite`.

    Args:
        args: the parsed options.
        interrupt: the `KeyboardInterrupt` (unused).

    Returns:
        A list of arguments.
    """
    from keras_procrustes.training.search.config import SearchConfig

    values = flags.config_values(args, SearchConfig)
    # A part given by keras-tuner's variables is written out as its flags,
    # so that the line resumes this process, not a search of its own.
    role = SearchConfig(**values).role()
    values.update({key: getattr(SearchConfig.with_role(role), key)
                   for key in ("chief", "worker", "oracle")})
    return flags.command_line(SearchConfig, values, overwrite=False)


def main(argv=None):
    """Entry point of the command.

    Args:
        argv: arguments, default `sys.argv[1:]`.

    Returns:
        The exit code.
    """
    return common.run_command(build_parser, run, argv, prog=PROG, resume=resume_arguments)


def main_script():
    """The console script: exits with `main()`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
