"""`fit`: train a (Procrustes) ResNet the paper's way, from a user's script.

    from keras_procrustes.training import fit
    metrics = fit("procresnet58", "fashion_mnist", epochs=30, log_dir="runs/p58")

The run folder gets TensorBoard logs (`train/`, `validation/`),
`history.csv`, `best.keras` with `best.json` (the epoch and accuracy of that
model), `metrics.json` and a manifest; `backup/` while it runs. Rerunning the
same call resumes a killed run from its last finished epoch.

`fit` is one pass, each step in the module that owns it: check the options
(`config`, `cluster`), plan the run and its devices (`launch`), load the data
(`data.load_splits`), build and compile (`build`), claim the folder and
restore (`launch`), attach callbacks (`run_callbacks`), train, summarise
(`report`).
"""

import os
import time

import keras

from keras_procrustes import data
from keras_procrustes.data import arrays
from keras_procrustes.training import build
from keras_procrustes.training import report
from keras_procrustes.training import run_callbacks
from keras_procrustes.training import stops
from keras_procrustes.training.callbacks import ctrl_c_between_batches
from keras_procrustes.training.callbacks import nan_guard
from keras_procrustes.training.config import TrainingConfig
from keras_procrustes.training.job import launch


def fit(model_or_name, dataset="cifar10", callbacks=None, **options):
    """Trains a model with the paper's recipe and returns the run's metrics.

    Args:
        model_or_name: a `models.get` name (`"procresnet166"`,
            `"resnet164_baseline"`; built with
            `include_preprocessing=True` and the training set's channel
            statistics, so `best.keras` takes raw pixels), or a `keras.Model`
            that takes raw pixel values in [0, 255] (compiled here unless
            already compiled; for several replicas, pass a name).
        dataset: a data set name (`"cifar10"`, `"cifar100"`,
            `"fashion_mnist"`), or `((x_train, y_train), (x_test, y_test))`
            uint8 image arrays `(N, H, W, C)` (grey images may be `(N, H,
            W)`: they get a channel axis, as `keras.datasets.mnist` gives
            them) and int labels from 0, `(N,)` or `(N, 1)`.
        callbacks: more Keras callbacks, run after the package's own, on
            every process of a job.
        **options: `TrainingConfig` fields: `epochs`, `batch_size`, `lr`,
            `log_dir`, `existing`, `grad_norm_every`, ...

    Returns:
        The dict also written to `metrics.json`: `best_test_error` and
        `best_epoch` (of `best.keras`), `last_test_error`, `epochs_done`,
        `resumed_from_epoch`, `images_per_second`, `trainable_parameters`, ...
        In a job of several processes (`coordinator`, `num_processes`,
        `process_id`), process 0 writes the run folder and returns that;
        the others return the run's facts and their `process_id`.

    Raises:
        TypeError: for an unknown option, or the model or data set passed
            as an option.
        ValueError: for a `model_or_name` that is neither a name nor a
            model, arrays a run can't use (`data.arrays.check_arrays`: labels
            below 0, more images than labels or fewer, an empty split,
            ...), or
            labels beyond the given model's classes; before any model is
            built and before the run folder is touched.
        OptionError: naming the first bad option (or a run folder that
            can't be used).
        RunStateError: for a run folder whose state can't be resumed.
        DataSourceError: when no source has the data set.
        FloatingPointError: when the loss stops being finite (`NaNGuard`).
        FolderBusyError: when another process writes the run folder.
        DiskFullError: when the disk fills up (the files before are intact).
        RunInterrupted: a `KeyboardInterrupt` (Ctrl-C) saying the epoch it
            stopped in and the backup kept.

    Example:
    >>> metrics = fit("procresnet58", "fashion_mnist", epochs=3, log_dir="runs/x")
    >>> metrics["best_test_error"]
    """
    config = make_config(model_or_name, dataset, options)
    config.check()
    check_data(model_or_name, dataset)
    run_options = config.run_options()
    run, devices = launch.plan_run(config, run_options)
    with run.lock:  # no other process writes the run folder until the run ends
        return _train(model_or_name, dataset, callbacks, config, run_options, run, devices)


def _train(model_or_name, dataset, callbacks, config, run_options, run, devices):
    """`fit` once its run folder is locked: data, model, training, summary."""
    (x_train, y_train), (x_test, y_test), info = data.load_splits(
        dataset, **config.data_options())
    launch.check_global_batch(config, info.train_examples, devices)
    global_batch = config.batch_size * devices.replicas
    drop = devices.replicas > 1  # a short last batch could leave a replica empty
    steps = data.steps_per_epoch(info.train_examples, global_batch, drop)
    launch.check_step_count(config, steps)
    model = build.prepare_model(model_or_name, config, info, devices, steps)
    iterations_at_start = launch.start(run, run_options, model, devices, global_batch)
    shape = dict(image_size=config.image_size, channels=config.channels)
    shard = (devices.process_id, devices.processes)
    train = data.train_dataset(
        x_train, y_train, global_batch, config.epochs, first_epoch=run.first_epoch,
        seed=config.seed, drop_remainder=drop, shard=shard, **shape)
    test = data.eval_dataset(x_test, y_test, global_batch, pad_to_multiple=devices.replicas,
                             shard=shard, **shape)
    probe = (data.prepare_images(x_test[: config.grad_norm_examples], **shape),
             y_test[: config.grad_norm_examples])
    callback_list = run_callbacks.make_callbacks(config, run, info, probe, devices.is_chief)
    callback_list += list(callbacks or [])
    report.announce(config, run, info, devices, model)
    start = time.perf_counter()
    guard = next(c for c in callback_list if isinstance(c, nan_guard.NaNGuard))
    ctrl_c = ctrl_c_between_batches.CtrlCBetweenBatches()
    if run.first_epoch < config.epochs:
        with stops.explained(run, config.epochs, guard, devices.is_chief), ctrl_c:
            model.fit(train, validation_data=test, epochs=config.epochs,
                      initial_epoch=run.first_epoch, steps_per_epoch=steps,
                      callbacks=callback_list + [ctrl_c],
                      verbose=config.verbose if devices.is_chief else 0, shuffle=False)
    facts = {
        "model": run_options["model"] or model.name, "dataset": info.name,
        "backend": keras.backend.backend(), "replicas": devices.replicas,
        "processes": devices.processes, "global_batch": global_batch, "remat": config.remat,
        "projection_engine": config.projection_engine, "seed": config.seed,
        "input": f"raw pixel values in [0, 255], shape {tuple(info.input_shape)}",
        "train_examples": info.train_examples, "steps_per_epoch": steps,
        "resumed_from_epoch": run.first_epoch,
        "optimizer_iterations_at_start": iterations_at_start,
        "wall_time_s": time.perf_counter() - start,
    }
    if not devices.is_chief:  # the run's record is process 0's to write
        return {**facts, "process_id": devices.process_id}
    return report.finish(config, run, model, callback_list, facts)


def check_data(model_or_name, dataset):
    """Refuses arrays a run can't use, and labels beyond a given model's classes.

    Args:
        model_or_name: `fit`'s first argument.
        dataset: `fit`'s second argument.

    Raises:
        ValueError: naming `dataset` and its first bad array, or
            `model_or_name` when its classifier has fewer outputs than the
            labels need.
    """
    if isinstance(dataset, str):
        classes, labels = data.get_spec(dataset).classes, f"dataset={dataset!r}"
    else:
        (_, y_train), (_, y_test) = arrays.check_arrays(dataset)
        classes, labels = arrays.classes_of(y_train, y_test), "the labels of `dataset`"
    if not isinstance(model_or_name, keras.Model):
        return
    try:
        shape = model_or_name.output_shape
    except (AttributeError, ValueError):  # a subclassed model not yet built
        return
    if isinstance(shape, tuple) and len(shape) == 2 and shape[-1] is not None \
            and shape[-1] < classes:
        raise ValueError(
            f"model_or_name={model_or_name.name!r} outputs {shape[-1]} classes "
            f"(output shape {shape}); {labels} need {classes} (labels 0 to "
            f"{classes - 1}). Build the model with classes={classes}."
        )


def make_config(model_or_name, dataset, options):
    """The `TrainingConfig` of a `fit` call (not yet checked).

    Args:
        model_or_name: `fit`'s first argument.
        dataset: `fit`'s second argument.
        options: `fit`'s other keyword arguments.

    Returns:
        A `TrainingConfig`, its `log_dir` defaulting to `runs/MODEL-DATASET`.

    Raises:
        TypeError: for an unknown option, or `model`/`dataset` as options.
        ValueError: for a `model_or_name` that is neither a name nor a model.
    """
    unknown = sorted(set(options) - set(TrainingConfig.__dataclass_fields__))
    if unknown:
        raise TypeError(f"fit() got unknown options {unknown}")
    if "model" in options or "dataset" in options:
        raise TypeError("pass the model and the data set as fit's first two arguments")
    model = model_or_name if isinstance(model_or_name, str) else None
    if model is None and not isinstance(model_or_name, keras.Model):
        raise ValueError(f"model_or_name must be a model name or a keras.Model. "
                         f"Received {type(model_or_name).__name__}")
    name = dataset if isinstance(dataset, str) else data.splits.ARRAYS
    config = TrainingConfig(model=model, dataset=name, **options)
    if config.log_dir is None:
        config.log_dir = os.path.join("runs", f"{model or model_or_name.name}-{name}")
    return config
