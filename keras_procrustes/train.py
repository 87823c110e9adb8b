"""Train a (Procrustes) ResNet: `python -m keras_procrustes.train --help`.

The paper's recipe (SPEC section 6) by default: SGD with momentum 0.9, lr 0.1
divided by 10 at 50% and 75% of the epochs, batch 128, weight decay 1e-4,
flip/pad/crop augmentation, projection probability 0.5. It trains on every
visible GPU (`tf.distribute.MirroredStrategy` on TensorFlow,
`keras.distribution.DataParallel` on JAX), writes TensorBoard logs, backs up
every epoch so a killed run resumes where it was, keeps the best model as
`best.keras`, and writes `metrics.json`.

Batch and learning rate on several replicas: `--batch-size` is per replica,
the global batch is `batch_size * replicas`, and the learning rate is scaled
linearly, `lr * replicas`.
"""

import argparse
import csv
import json
import math
import os
import statistics
import sys
import time

DATASET_CHOICES = ("cifar10", "cifar100", "fashion_mnist")


def build_parser():
    """The command-line parser.

    Returns:
        An `argparse.ArgumentParser`.
    """
    from keras_procrustes import models

    parser = argparse.ArgumentParser(
        prog="python -m keras_procrustes.train",
        description="Train a Procrustes ResNet (or its baseline) on CIFAR or "
        "Fashion-MNIST, with TensorBoard logs.",
    )
    add = parser.add_argument
    add("--model", default="procresnet166",
        help=f"one of {', '.join(models.list_models())}, or resnet{{9n+2}} / "
        "procresnet{9n+4} for any bottleneck depth")
    add_data_arguments(parser)
    add("--epochs", type=int, default=300, help="the lr schedule scales to it")
    add("--batch-size", type=int, default=128, help="per replica")
    add("--lr", type=float, default=0.1, help="for one replica")
    add("--momentum", type=float, default=0.9)
    add("--weight-decay", type=float, default=1e-4, help="L2 coefficient")
    add("--projection-probability", type=float, default=0.5)
    add("--log-dir", default=None, help="default runs/MODEL-DATASET")
    add("--mixed-precision", choices=("none", "float16", "bfloat16"), default="none")
    add("--jit-compile", choices=("auto", "true", "false"), default="auto")
    add("--remat", action="store_true",
        help="recompute residual blocks in the backward pass (less memory)")
    add("--no-backup", action="store_true", help="no BackupAndRestore")
    return parser


def add_data_arguments(parser):
    """Options shared by `train` and `tune`: data, devices, seed, verbosity.

    Args:
        parser: an `argparse.ArgumentParser` to add them to.
    """
    add = parser.add_argument
    add("--dataset", default="cifar10", choices=DATASET_CHOICES)
    add("--data-dir", default=None, help="folder or archive with a local copy")
    add("--no-download", action="store_true", help="never download with tfds")
    add("--max-train-examples", type=int, default=None, help="for short runs")
    add("--max-test-examples", type=int, default=None, help="for short runs")
    add("--image-size", type=int, default=None, help="pad/resize, e.g. 32")
    add("--channels", type=int, choices=(1, 3), default=None)
    add("--cpu-replicas", type=int, default=0,
        help="TensorFlow only: split the CPU into N logical devices and "
        "mirror over them (for testing multi-replica training without GPUs)")
    add("--seed", type=int, default=0)
    add("--verbose", type=int, choices=(0, 1, 2), default=1)


def load_data(args, batch_size):
    """The pipelines `add_data_arguments`' options ask for.

    Args:
        args: parsed options.
        batch_size: the global batch size.

    Returns:
        `(train, test, DataInfo)`.
    """
    from keras_procrustes import data

    return data.load(
        args.dataset,
        batch_size=batch_size,
        data_dir=args.data_dir,
        download=not args.no_download,
        image_size=args.image_size,
        channels=args.channels,
        max_train_examples=args.max_train_examples,
        max_test_examples=args.max_test_examples,
        seed=args.seed,
    )


def check_args(args):
    """Raises a ValueError naming the first bad option."""
    positive = ("epochs", "batch_size", "lr")
    for name in positive:
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive. Received {getattr(args, name)}")
    if not 0 <= args.projection_probability <= 1:
        raise ValueError(
            f"--projection-probability must be in [0, 1]. Received {args.projection_probability}"
        )
    if not 0 <= args.momentum < 1:
        raise ValueError(f"--momentum must be in [0, 1). Received {args.momentum}")


def configure_devices(cpu_replicas=0):
    """The distribution for this machine's devices.

    TensorFlow: `MirroredStrategy` over every visible GPU (or over
    `cpu_replicas` logical CPU devices), else the default strategy. JAX:
    `keras.distribution.DataParallel` when there are several devices.

    Args:
        cpu_replicas: split the CPU into this many logical devices
            (TensorFlow); 0 to use the GPUs if any.

    Returns:
        `(strategy, replicas)`: the `tf.distribute.Strategy` to build the
        model under (`None` on JAX), and the number of replicas.
    """
    import keras

    if keras.backend.backend() == "jax":
        import jax

        if cpu_replicas:
            raise ValueError("--cpu-replicas is for the TensorFlow backend.")
        devices = jax.devices()
        if len(devices) > 1:
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        return None, len(devices)
    import tensorflow as tf

    if cpu_replicas:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas
        )
        names = [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(names)
    elif tf.config.list_physical_devices("GPU"):
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    return strategy, strategy.num_replicas_in_sync


def strategy_scope(strategy):
    """`strategy.scope()`, or a no-op context for `None`."""
    import contextlib

    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def lr_schedule(lr, epochs, steps_per_epoch):
    """The paper's step schedule, scaled to `epochs`: /10 at 50% and 75%.

    Args:
        lr: the initial learning rate.
        epochs: epochs in the run.
        steps_per_epoch: optimizer steps per epoch.

    Returns:
        A `keras.optimizers.schedules.PiecewiseConstantDecay`.
    """
    import keras

    total = epochs * steps_per_epoch
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries=[int(0.5 * total), int(0.75 * total)],
        values=[lr, lr / 10, lr / 100],
    )


def paper_sgd(learning_rate, momentum=0.9, weight_decay=1e-4):
    """SGD with momentum and the paper's L2 weight decay.

    Keras decays weights decoupled from the momentum; the paper's L2 term
    passes through it, which in steady state amounts to a decoupled decay of
    `weight_decay / (1 - momentum)`.

    Args:
        learning_rate: a float or a schedule.
        momentum: in [0, 1).
        weight_decay: the L2 coefficient (0 for none).

    Returns:
        A `keras.optimizers.SGD`.
    """
    import keras

    return keras.optimizers.SGD(
        learning_rate,
        momentum=momentum,
        weight_decay=weight_decay / (1 - momentum) or None,
    )


def summarise_history(history_path):
    """Best and last test error from the CSV log (all runs of a resumed job).

    Args:
        history_path: the `CSVLogger` file.

    Returns:
        A dict with `epochs_done`, `best_test_error`, `best_epoch`,
        `last_test_error`, `test_error_per_epoch`.
    """
    with open(history_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    errors = [1.0 - float(row["val_accuracy"]) for row in rows]
    best = min(range(len(errors)), key=errors.__getitem__)
    return {
        "epochs_done": int(rows[-1]["epoch"]) + 1,
        "best_test_error": errors[best],
        "best_epoch": int(rows[best]["epoch"]) + 1,
        "last_test_error": errors[-1],
        "test_error_per_epoch": errors,
    }


def warn_if_remat_is_void(remat):
    """Says so when `--remat` will save no memory: JAX compiling for a CPU.

    XLA's CPU compiler removes the optimisation barriers that keep the
    recomputed forward pass apart and merges it back (benchmarks/memory.py:
    the compiled plan is unchanged).

    Args:
        remat: whether `--remat` was given.
    """
    import keras

    if not remat or keras.backend.backend() != "jax":
        return
    import jax

    if jax.default_backend() == "cpu":
        print(
            "[keras_procrustes] note: --remat saves no memory on JAX with a CPU "
            "(XLA's CPU compiler merges the recomputation back); it does on "
            "TensorFlow",
            flush=True,
        )


def run(args):
    """Trains as `args` say; returns the metrics also written to JSON.

    Args:
        args: parsed options of `build_parser()`.

    Returns:
        The metrics dict.
    """
    check_args(args)
    strategy, replicas = configure_devices(args.cpu_replicas)

    import keras

    from keras_procrustes import callbacks as kp_callbacks
    from keras_procrustes import models

    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(f"mixed_{args.mixed_precision}")
    log_dir = args.log_dir or os.path.join("runs", f"{args.model}-{args.dataset}")
    os.makedirs(log_dir, exist_ok=True)
    global_batch = args.batch_size * replicas
    train, test, info = load_data(args, global_batch)
    steps_per_epoch = math.ceil(info.train_examples / global_batch)
    with strategy_scope(strategy):
        model = models.get(
            args.model,
            input_shape=info.input_shape,
            classes=info.classes,
            projection_probability=args.projection_probability,
            seed=args.seed,
            remat=args.remat,
        )
        optimizer = paper_sgd(
            lr_schedule(args.lr * replicas, args.epochs, steps_per_epoch),
            momentum=args.momentum,
            weight_decay=args.weight_decay,
        )
        jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
        model.compile(
            optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit
        )
    backup_dir = os.path.join(log_dir, "backup")
    recorder = kp_callbacks.StartRecorder()
    monitor = kp_callbacks.TrainingMonitor(info.train_examples)
    callback_list = [] if args.no_backup else [keras.callbacks.BackupAndRestore(backup_dir)]
    callback_list += [
        recorder,
        kp_callbacks.NaNGuard(None if args.no_backup else backup_dir),
        monitor,
        keras.callbacks.CSVLogger(os.path.join(log_dir, "history.csv"), append=True),
        keras.callbacks.ModelCheckpoint(
            os.path.join(log_dir, "best.keras"), monitor="val_accuracy", save_best_only=True
        ),
        keras.callbacks.TensorBoard(log_dir),
    ]
    print(
        f"[keras_procrustes] {args.model} on {args.dataset} ({info.train_examples} train "
        f"images from {info.source}), {replicas} replica(s), global batch {global_batch}, "
        f"backend {keras.backend.backend()}, logs in {log_dir}",
        flush=True,
    )
    warn_if_remat_is_void(args.remat)
    start = time.perf_counter()
    model.fit(
        train,
        validation_data=test,
        epochs=args.epochs,
        callbacks=callback_list,
        verbose=args.verbose,
        shuffle=False,  # the pipeline shuffles
    )
    metrics = {
        "model": args.model,
        "dataset": args.dataset,
        "backend": keras.backend.backend(),
        "replicas": replicas,
        "global_batch": global_batch,
        "remat": args.remat,
        "train_examples": info.train_examples,
        "trainable_parameters": sum(int(math.prod(w.shape)) for w in model.trainable_weights),
        "steps_per_epoch": steps_per_epoch,
        "optimizer_iterations_at_start": recorder.iterations_at_start,
        "resumed_from_epoch": recorder.iterations_at_start // steps_per_epoch,
        "wall_time_s": time.perf_counter() - start,
        "images_per_second": (
            statistics.median(monitor.epoch_images_per_second)
            if monitor.epoch_images_per_second
            else None
        ),
        **summarise_history(os.path.join(log_dir, "history.csv")),
    }
    with open(os.path.join(log_dir, "metrics.json"), "w") as handle:
        json.dump(metrics, handle, indent=2)
    print(
        f"[keras_procrustes] best test error {metrics['best_test_error']:.4f} (epoch "
        f"{metrics['best_epoch']}), last {metrics['last_test_error']:.4f}; "
        f"{metrics['wall_time_s']:.0f} s; metrics in {os.path.join(log_dir, 'metrics.json')}",
        flush=True,
    )
    return metrics


def run_cli(parser, check, run_function, argv=None):
    """Parses, checks and runs a command; user errors exit 2 with a message.

    Args:
        parser: the command's `argparse.ArgumentParser`.
        check: raises a ValueError naming a bad option.
        run_function: runs the parsed options.
        argv: arguments, default `sys.argv[1:]`.

    Returns:
        The process exit status.
    """
    from keras_procrustes.data import DataSourceError

    args = parser.parse_args(argv)
    try:
        check(args)
    except ValueError as error:
        parser.error(str(error))
    try:
        run_function(args)
    except (DataSourceError, FloatingPointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv=None):
    """Entry point of `python -m keras_procrustes.train`.

    Args:
        argv: arguments, default `sys.argv[1:]`.

    Returns:
        The process exit status.
    """
    return run_cli(build_parser(), check_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
