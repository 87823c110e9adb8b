"""`keras-procrustes-tune` (or `python -m keras_procrustes.tune`).

A keras-tuner search (random, Hyperband or Bayesian) over Procrustes ResNets
with the training pipeline. Trials, a TensorBoard folder per trial, the best
hyperparameters (JSON) and the best model (`best.keras`) land in
`--directory/--project-name`. The same command again resumes an interrupted
search; `--overwrite` starts over, deleting only the search's own files.
"""

import sys

from keras_procrustes.cli import common


def build_parser():
    """The command-line parser.

    Returns:
        A `common.Parser`.
    """
    parser = common.Parser(
        prog="keras-procrustes-tune",
        description="Search Procrustes ResNet hyperparameters with keras-tuner.",
    )
    add = parser.add_argument
    add("--tuner", default="random", help="random, hyperband or bayesian")
    add("--max-trials", type=int, default=10)
    add("--epochs", type=int, default=10, help="per trial (Hyperband's maximum)")
    add("--block-type", default="bottleneck", help="bottleneck or basic")
    add("--depths", type=int, nargs="+", default=[164, 272], help="He et al.'s count")
    add("--batch-sizes", type=int, nargs="+", default=[64, 128, 256], help="per replica")
    add("--objective", default="val_accuracy")
    add("--directory", default="runs/tuning")
    add("--project-name", default="procresnet", help="a plain folder name")
    add("--overwrite", action="store_true",
        help="start over (deletes only the search's own files)")
    common.add_data_arguments(parser)
    job = parser.add_argument_group(
        "several processes (keras-tuner's distributed search: a chief oracle and "
        "workers over gRPC; --directory must be a folder every process sees)")
    job.add_argument("--chief", action="store_true",
                     help="serve the search's oracle at --oracle; trains nothing")
    job.add_argument("--worker", default=None, metavar="ID",
                     help="train trials the chief hands out; restart a killed worker with "
                     "the same ID to retry its trial")
    job.add_argument("--oracle", default=None, metavar="HOST:PORT",
                     help="the chief's address (KERASTUNER_ORACLE_IP/PORT)")
    return parser


def role(args):
    """The process's part in a distributed search, checked, or `None`."""
    import re

    from keras_procrustes.training.config import FlagError
    from keras_procrustes.training.config import OptionError
    from keras_procrustes.training.config import address_problem

    if not args.chief and args.worker is None:
        if args.oracle is not None:
            raise OptionError("oracle", args.oracle, "needs --chief or --worker ID")
        return None
    if args.chief and args.worker is not None:
        raise OptionError("worker", args.worker, "a process is --chief or a worker, not both")
    if args.worker is not None and (not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", args.worker)
                                    or "chief" in args.worker):
        raise OptionError("worker", args.worker, "must be letters, digits, '-', '_' "
                          "(and not contain 'chief')")
    if args.oracle is None:
        if args.chief:
            raise FlagError("chief", True, "needs --oracle HOST:PORT (the address to serve "
                            "the search's oracle at)")
        raise OptionError("worker", args.worker, "needs --oracle HOST:PORT (the chief's "
                          "address)")
    problem = address_problem(args.oracle, "of the chief")
    if problem:
        raise OptionError("oracle", args.oracle, problem)
    return ("chief", args.oracle) if args.chief else ("worker", args.worker, args.oracle)


def check_tuner_environment():
    """Checks keras-tuner's own variables for a distributed search.

    keras-tuner reads `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT` and
    `KERASTUNER_TUNER_ID` when a tuner is made (with no `--chief` or
    `--worker`, which set them); a bad value would end in gRPC's traceback
    after the search folder is made.
    """
    import os

    from keras_procrustes.training.config import EnvironmentOptionError
    from keras_procrustes.training.config import address_problem

    names = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
    given = {name: os.environ[name] for name in names if name in os.environ}
    if "KERASTUNER_ORACLE_IP" not in given:
        return  # keras-tuner searches in this process alone
    ip = given["KERASTUNER_ORACLE_IP"]
    if "KERASTUNER_ORACLE_PORT" in given:
        port = given["KERASTUNER_ORACLE_PORT"]
        if address_problem(f"{ip or 'host'}:{port}", ""):
            raise EnvironmentOptionError("KERASTUNER_ORACLE_PORT", port,
                                         "must be a port of the chief, 1-65535")
    if not ip.strip():
        raise EnvironmentOptionError("KERASTUNER_ORACLE_IP", ip, "must be the chief's host")
    for name in names:
        if name not in given:
            present = next(n for n in names if n in given)
            raise EnvironmentOptionError(present, given[present], f"needs {name} too (or "
                                         "pass --chief/--worker ID with --oracle HOST:PORT)")


def check(args):
    """Raises an `OptionError` naming the first bad option."""
    import keras

    from keras_procrustes import models
    from keras_procrustes.layers.residual_block import BLOCK_TYPES
    from keras_procrustes.training import TrainingConfig
    from keras_procrustes.training import search
    from keras_procrustes.training import tuning
    from keras_procrustes.training.config import OptionError

    options = common.data_options(args)
    backend = keras.backend.backend()
    if args.cpu_replicas > 1 and backend != "tensorflow":
        why = ("jaxlib's batched CPU SVD hangs with several JAX CPU devices in one process"
               if backend == "jax" else f"Keras trains on one device on {backend}")
        raise OptionError("cpu_replicas", args.cpu_replicas,
                          f"needs KERAS_BACKEND=tensorflow for a search ({why})")
    TrainingConfig(epochs=args.epochs, model=None, **options).check()
    if args.tuner not in tuning.TUNERS:
        raise OptionError("tuner", args.tuner, f"must be one of {', '.join(tuning.TUNERS)}")
    if args.max_trials < 1:
        raise OptionError("max_trials", args.max_trials, "must be a positive int")
    for size in args.batch_sizes:
        if size < 1:
            raise OptionError("batch_sizes", size, "must be positive ints")
    if args.objective not in tuning.OBJECTIVES:
        raise OptionError("objective", args.objective,
                          f"must be one of {', '.join(tuning.OBJECTIVES)}")
    if args.block_type not in BLOCK_TYPES:
        raise OptionError("block_type", args.block_type,
                          f"must be one of {', '.join(BLOCK_TYPES)}")
    for depth in args.depths:
        try:
            models.blocks_per_stage(depth, args.block_type)
        except ValueError as error:
            raise OptionError("depths", depth, str(error)) from None
    if role(args) is None:
        check_tuner_environment()
    if role(args) is None or args.chief:
        search.check_project(args.directory, args.project_name, args.overwrite)


def run(args):
    """Runs the search the parsed options describe."""
    from keras_procrustes.training import search

    check(args)
    options = common.data_options(args)
    options.pop("verbose")
    _, best = search.search(
        options.pop("dataset"), directory=args.directory, project_name=args.project_name,
        tuner=args.tuner, max_trials=args.max_trials, epochs=args.epochs,
        block_type=args.block_type, depths=args.depths, batch_sizes=args.batch_sizes,
        objective=args.objective, overwrite=args.overwrite, verbose=args.verbose,
        role=role(args), **options)
    if best is None:
        print("[keras_procrustes] no trials left; the chief writes the results", flush=True)
    else:
        print(f"[keras_procrustes] best hyperparameters {best}", flush=True)
    return best


def main(argv=None):
    """Entry point of the command.

    Args:
        argv: arguments, default `sys.argv[1:]`.

    Returns:
        The exit code.
    """
    return common.run_command(build_parser(), run, argv)


def main_script():
    """The console script: exits with `main()`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
