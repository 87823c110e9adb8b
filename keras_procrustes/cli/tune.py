"""Search hyperparameters: `python -m keras_procrustes.tune --help`.

Runs a keras-tuner search (random, Hyperband or Bayesian) over
`ProcResNetHyperModel` with the training pipeline. Trials, one TensorBoard
log folder per trial, the best hyperparameters (JSON) and the best model
(`best.keras`) land in `--directory/--project-name`. Running the same command
again resumes an interrupted search: finished trials are not redone
(`--overwrite` starts over). On several GPUs the search trains each trial
under `tf.distribute.MirroredStrategy`.
"""

import argparse
import json
import os
import sys

from keras_procrustes import train


def build_parser():
    """The command-line parser.

    Returns:
        An `argparse.ArgumentParser`.
    """
    parser = argparse.ArgumentParser(
        prog="python -m keras_procrustes.tune",
        description="Search Procrustes ResNet hyperparameters with keras-tuner.",
    )
    add = parser.add_argument
    add("--tuner", choices=("random", "hyperband", "bayesian"), default="random")
    add("--max-trials", type=int, default=10)
    add("--epochs", type=int, default=10, help="per trial (Hyperband's maximum)")
    add("--block-type", choices=("bottleneck", "basic"), default="bottleneck")
    add("--depths", type=int, nargs="+", default=[164, 272], help="He et al.'s count")
    add("--batch-sizes", type=int, nargs="+", default=[64, 128, 256])
    add("--objective", default="val_accuracy")
    add("--directory", default="runs/tuning")
    add("--project-name", default="procresnet")
    add("--overwrite", action="store_true", help="start over instead of resuming")
    train.add_data_arguments(parser)
    return parser


def run(args):
    """Runs the search `args` describe.

    Args:
        args: parsed options of `build_parser()`.

    Returns:
        `(tuner, best_hyperparameters_dict)`.
    """
    import keras

    from keras_procrustes import callbacks
    from keras_procrustes import tuning

    strategy, replicas = train.configure_devices(args.cpu_replicas)
    keras.utils.set_random_seed(args.seed)
    train_data, test_data, info = train.load_data(args, max(args.batch_sizes))
    hypermodel = tuning.ProcResNetHyperModel(
        info.input_shape,
        info.classes,
        block_type=args.block_type,
        depths=args.depths,
        batch_sizes=args.batch_sizes,
    )
    tuner = tuning.make_tuner(
        hypermodel,
        kind=args.tuner,
        max_trials=args.max_trials,
        objective=args.objective,
        directory=args.directory,
        project_name=args.project_name,
        max_epochs=args.epochs,
        seed=args.seed,
        distribution_strategy=strategy if replicas > 1 else None,
        overwrite=args.overwrite,
    )
    project_dir = os.path.join(args.directory, args.project_name)
    tuner.search(
        train_data,
        validation_data=test_data,
        epochs=args.epochs,
        verbose=args.verbose,
        shuffle=False,
        callbacks=[
            callbacks.NaNGuard(),
            callbacks.TrainingMonitor(info.train_examples),
            keras.callbacks.TensorBoard(os.path.join(project_dir, "tensorboard")),
        ],
    )
    best_hp = tuner.get_best_hyperparameters(1)[0].values
    with open(os.path.join(project_dir, "best_hyperparameters.json"), "w") as handle:
        json.dump(best_hp, handle, indent=2)
    tuner.get_best_models(1)[0].save(os.path.join(project_dir, "best.keras"))
    tuner.results_summary(3)
    print(f"[keras_procrustes] best hyperparameters {best_hp}; model in {project_dir}/best.keras",
          flush=True)
    return tuner, best_hp


def check_args(args):
    """Raises a ValueError naming the first bad option."""
    from keras_procrustes import models

    if args.max_trials < 1 or args.epochs < 1:
        raise ValueError(
            f"--max-trials and --epochs must be positive. Received {args.max_trials} "
            f"and {args.epochs}"
        )
    for depth in args.depths:
        models.blocks_per_stage(depth, args.block_type)


def main(argv=None):
    """Entry point of `python -m keras_procrustes.tune`.

    Args:
        argv: arguments, default `sys.argv[1:]`.

    Returns:
        The process exit status.
    """
    return train.run_cli(build_parser(), check_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
