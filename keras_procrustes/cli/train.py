"""`keras-procrustes-train` (or `python -m keras_procrustes.cli.train`).

The paper's recipe by default (Zaeemzadeh, Rahnavard & Shah, TPAMI 2020,
arXiv:1805.07477, after He et al. 2016): SGD with momentum 0.9, lr 0.1
divided by 10 at 50% and 75% of the epochs, batch 128, weight decay 1e-4,
flip/pad/crop augmentation, projection probability 0.5, on every visible GPU.
`--batch-size` is per replica; the global batch and the learning rate scale
with the replica count. With `--coordinator HOST:PORT --num-processes N
--process-id I` (or the KERAS_DISTRIBUTION_* variables) on JAX, N processes
train as one job over all their devices. The flags are `TrainingConfig`'s
fields, with its defaults; see `keras_procrustes.training.fit`.
"""

import sys

from keras_procrustes.cli import common
from keras_procrustes.cli import flags

PROG = "keras-procrustes-train"


def build_parser():
    """The command-line parser, its flags generated from `TrainingConfig`.

    Returns:
        A `common.Parser`.

    Raises:
        MissingExtraError: without the `train` extra.
    """
    from keras_procrustes.training.config import TrainingConfig

    parser = common.Parser(
        prog=PROG,
        description="Train a Procrustes ResNet (or its baseline) on CIFAR or "
        "Fashion-MNIST, with TensorBoard logs.",
    )
    return flags.add_flags(parser, TrainingConfig)


def run(args):
    """Trains as the parsed options say; returns the metrics."""
    from keras_procrustes.training import fit
    from keras_procrustes.training.config import TrainingConfig

    options = flags.config_values(args, TrainingConfig)
    return fit(options.pop("model"), options.pop("dataset"), **options)


def resume_arguments(args, interrupt):
    """The arguments that resume a run stopped by `interrupt` (Ctrl-C).

    Args:
        args: the parsed options.
        interrupt: the `KeyboardInterrupt`; a `RunInterrupted` names the
            run's folder (a numbered one for `--existing new`).

    Returns:
        A list of arguments.
    """
    from keras_procrustes.training.config import TrainingConfig

    values = flags.config_values(args, TrainingConfig)
    run_dir = getattr(interrupt, "run_dir", None)
    if run_dir is None:  # stopped before its folder was known: the same command
        return flags.command_line(TrainingConfig, values)
    return flags.command_line(TrainingConfig, values, log_dir=run_dir, existing="resume")


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
