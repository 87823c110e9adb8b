"""`fit`: train a (Procrustes) ResNet the paper's way, from a user's script.

    from keras_procrustes.training import fit
    metrics = fit("procresnet58", "fashion_mnist", epochs=30, log_dir="runs/p58")

The run folder gets TensorBoard logs (`train/`, `validation/`),
`history.csv`, `best.keras` with `best.json` (the epoch and accuracy of that
model), `metrics.json` and a manifest; `backup/` while it runs. Rerunning the
same call resumes a killed run from its last finished epoch.
"""

import math
import os
import statistics
import time

import keras
import numpy as np

from keras_procrustes import data
from keras_procrustes import models
from keras_procrustes.training import callbacks as kp_callbacks
from keras_procrustes.training import checkpoints
from keras_procrustes.training import distribute
from keras_procrustes.training import recipe
from keras_procrustes.training import rundir
from keras_procrustes.training import tensorboard
from keras_procrustes.training.config import OptionError
from keras_procrustes.training.config import TrainingConfig


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
            uint8 image arrays `(N, H, W, C)` and int labels.
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

    Example:
    >>> metrics = fit("procresnet58", "fashion_mnist", epochs=3, log_dir="runs/x")
    >>> metrics["best_test_error"]
    """
    config = make_config(model_or_name, dataset, options)
    config.check()
    run, devices = plan_and_configure(config)
    (x_train, y_train), (x_test, y_test), info = load_data(dataset, config)
    global_batch = config.batch_size * devices.replicas
    drop = devices.replicas > 1  # a short last batch could leave a replica empty
    steps = data.steps_per_epoch(info.train_examples, global_batch, drop)
    model = prepare_model(model_or_name, config, info, devices, steps)
    if devices.is_chief:
        rundir.claim(run, config.run_options(), {
            "backend": keras.backend.backend(), "replicas": devices.replicas,
            "processes": devices.processes, "global_batch": global_batch})
    restore(model, run, devices)
    iterations_at_start = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    shape = dict(image_size=config.image_size, channels=config.channels)
    shard = (devices.process_id, devices.processes)
    train = data.train_dataset(
        x_train, y_train, global_batch, config.epochs, first_epoch=run.first_epoch,
        seed=config.seed, drop_remainder=drop, shard=shard, **shape)
    test = data.eval_dataset(x_test, y_test, global_batch, pad_to_multiple=devices.replicas,
                             shard=shard, **shape)
    probe = (data.prepare_images(x_test[: config.grad_norm_examples], **shape),
             y_test[: config.grad_norm_examples])
    callback_list = make_callbacks(config, run, info, probe, devices.is_chief)
    callback_list += list(callbacks or [])
    _announce(config, run, info, devices, model)
    start = time.perf_counter()
    if run.first_epoch < config.epochs:
        model.fit(train, validation_data=test, epochs=config.epochs,
                  initial_epoch=run.first_epoch, steps_per_epoch=steps,
                  callbacks=callback_list, verbose=config.verbose if devices.is_chief else 0,
                  shuffle=False)
    facts = {
        "model": config.run_options()["model"] or model.name, "dataset": info.name,
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
    metrics = summarise(run, model, callback_list, facts)
    rundir.finish(run.path, metrics)
    _say(config, f"best test error {metrics['best_test_error']:.4f} (epoch "
         f"{metrics['best_epoch']}, best.keras), last {metrics['last_test_error']:.4f}; "
         f"metrics in {os.path.join(run.path, 'metrics.json')}")
    return metrics


def plan_and_configure(config):
    """The run's plan and devices; in a job, process 0 plans and tells the others.

    A single process plans first (a bad folder is refused before the backend
    starts). A process of a job joins it first (`jax.distributed`), then
    process 0 alone reads the run folder and sends the epoch to start at.

    Args:
        config: the checked `TrainingConfig`.

    Returns:
        `(RunPlan, Devices)`. On processes other than 0 the plan holds only
        the folder and the first epoch.
    """
    cluster = config.cluster()
    if cluster is None:
        run = rundir.plan(config.log_dir, config.existing, config.run_options(), config.model)
        devices = _configure(config, None)
        rundir.check_replicas(run, devices.replicas)
        return run, devices
    devices = _configure(config, cluster)
    run = error = None
    if devices.is_chief:
        try:
            run = rundir.plan(config.log_dir, config.existing, config.run_options(), config.model)
            rundir.check_replicas(run, devices.replicas)
        except (OptionError, checkpoints.RunStateError) as caught:
            error = caught
    first_epoch = int(distribute.broadcast_from_chief(
        np.int64(-1 if run is None else run.first_epoch)))
    if error is not None:
        raise error
    if first_epoch < 0:
        raise checkpoints.RunStateError(
            f"process 0 can't use the run folder {config.log_dir} (its output says why)")
    return run or rundir.RunPlan(config.log_dir, first_epoch), devices


def _configure(config, cluster):
    """`distribute.configure`, refusing the SVD engine where it would hang."""
    devices = distribute.configure(config.cpu_replicas, cluster)
    if config.projection_engine == "svd" and distribute.several_cpu_devices_per_process():
        raise OptionError(
            "projection_engine", "svd", "hangs with several JAX CPU devices in one process "
            "(jaxlib's batched CPU SVD); pass --projection-engine newton_schulz")
    return devices


def restore(model, run, devices):
    """Loads the run's backup into the model, on every process of a job.

    In a job, only process 0 reads the run folder: it sends the backup's
    bytes and the others load them from a temporary copy, so every process
    resumes from the same state whether the folder is shared or not.

    Args:
        model: the compiled model.
        run: the `RunPlan`.
        devices: the `Devices`.
    """
    if not run.first_epoch:
        return
    if devices.processes == 1:
        checkpoints.restore(model, run.weights_path)
        return
    path = distribute.share_file(run.weights_path, devices.is_chief, suffix=".weights.h5")
    try:
        checkpoints.restore(model, path)
    finally:
        if not devices.is_chief:
            os.remove(path)


def prepare_model(model_or_name, config, info, devices, steps):
    """The seeded model, built and compiled under the devices' scope."""
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(f"mixed_{config.mixed_precision}")
    with devices.scope():
        model = build_model(model_or_name, config, info)
        if getattr(model, "optimizer", None) is None or isinstance(model_or_name, str):
            optimizer = recipe.paper_sgd(
                recipe.lr_schedule(config.lr * devices.replicas, config.epochs, steps),
                momentum=config.momentum,
                weight_decay=config.weight_decay,
            )
            recipe.compile_classifier(model, optimizer, config.jit)
    return model


def _announce(config, run, info, devices, model):
    """Says what runs where, and notes."""
    if not devices.is_chief:
        return
    job = f" in {devices.processes} processes" if devices.processes > 1 else ""
    _say(config, f"{config.model or model.name} on {info.name} ({info.train_examples} train "
         f"images from {info.source}), {devices.replicas} replica(s){job}, global batch "
         f"{config.batch_size * devices.replicas}, backend {keras.backend.backend()}, "
         f"run in {run.path}")
    if run.first_epoch:
        _say(config, f"resuming at epoch {run.first_epoch + 1} from the backup of epoch "
             f"{run.first_epoch}")
    for note in (distribute.device_note(), distribute.remat_note(config.remat)):
        if note:
            _say(config, f"note: {note}")


def make_config(model_or_name, dataset, options):
    """The `TrainingConfig` of a `fit` call (not yet checked)."""
    unknown = sorted(set(options) - set(TrainingConfig.__dataclass_fields__))
    if unknown:
        raise TypeError(f"fit() got unknown options {unknown}")
    if "model" in options or "dataset" in options:
        raise TypeError("pass the model and the data set as fit's first two arguments")
    model = model_or_name if isinstance(model_or_name, str) else None
    if model is None and not isinstance(model_or_name, keras.Model):
        raise ValueError(f"model_or_name must be a model name or a keras.Model. "
                         f"Received {type(model_or_name).__name__}")
    name = dataset if isinstance(dataset, str) else "arrays"
    config = TrainingConfig(model=model, dataset=name, **options)
    if config.log_dir is None:
        config.log_dir = os.path.join("runs", f"{model or model_or_name.name}-{name}")
    return config


def load_data(dataset, config):
    """The run's uint8 splits and `DataInfo`, from a name or from arrays."""
    if isinstance(dataset, str):
        return data.load_splits(
            dataset, data_dir=config.data_dir, download=config.download,
            image_size=config.image_size, channels=config.channels,
            max_train_examples=config.max_train_examples,
            max_test_examples=config.max_test_examples)
    (x_train, y_train), (x_test, y_test) = dataset
    x_train, y_train = x_train[: config.max_train_examples], y_train[: config.max_train_examples]
    x_test, y_test = x_test[: config.max_test_examples], y_test[: config.max_test_examples]
    mean, std = data.channel_stats(x_train)
    if config.channels == 3 and x_train.shape[-1] == 1:
        mean, std = np.repeat(mean, 3), np.repeat(std, 3)
    info = data.DataInfo(
        name="arrays", classes=int(max(y_train.max(), y_test.max())) + 1,
        input_shape=data.pipeline.output_shape(x_train.shape[1:], config.image_size, config.channels),
        train_examples=len(x_train), test_examples=len(x_test), source="arrays",
        mean=mean.tolist(), std=std.tolist())
    return (x_train, y_train), (x_test, y_test), info


def build_model(model_or_name, config, info):
    """The model: built by name with the data's normalisation inside, or as given."""
    if not isinstance(model_or_name, str):
        return model_or_name
    return models.get(
        model_or_name, input_shape=tuple(info.input_shape), classes=info.classes,
        include_preprocessing=True, preprocessing_mean=info.mean, preprocessing_std=info.std,
        projection_probability=config.projection_probability,
        projection_engine=config.projection_engine, seed=config.seed, remat=config.remat)


def make_callbacks(config, run, info, probe, writes=True):
    """Monitors, logs, the best-model checkpoint and (last) the backup.

    Args:
        config: the `TrainingConfig`.
        run: the `RunPlan`.
        info: the `DataInfo`.
        probe: `(images, labels)` for the gradient norm ratios.
        writes: whether this process writes the run folder (process 0);
            the others run only the callbacks that compute (every process
            of a job must take part in a computation on its weights).

    Returns:
        A list of callbacks.
    """
    monitor = kp_callbacks.TrainingMonitor(info.train_examples)
    backup_dir = os.path.join(run.path, checkpoints.BACKUP_DIR) if config.backup else None
    callback_list = [monitor, kp_callbacks.NaNGuard(backup_dir)]
    if config.grad_norm_every:
        callback_list.append(kp_callbacks.NormPreservationMonitor(
            *probe, every=config.grad_norm_every, log_dir=os.path.join(run.path, "train"),
            at_start=False, log_each_block=False))
    if not writes:
        return callback_list
    callback_list += [
        keras.callbacks.CSVLogger(os.path.join(run.path, rundir.HISTORY), append=True),
        checkpoints.BestModelCheckpoint(run.path, run.best),
        tensorboard.RunTensorBoard(run.path),
    ]
    if backup_dir:
        callback_list.append(checkpoints.RunBackup(backup_dir))
    return callback_list


def summarise(run, model, callback_list, facts):
    """The run's metrics: `facts`, the history and the best model's record."""
    rows = rundir.read_history(run.path)
    errors = [1.0 - float(row["val_accuracy"]) for row in rows]
    best = next(c.best for c in callback_list if isinstance(c, checkpoints.BestModelCheckpoint))
    throughput = next(c for c in callback_list if isinstance(c, kp_callbacks.TrainingMonitor))
    return {
        **facts,
        "trainable_parameters": sum(int(math.prod(w.shape)) for w in model.trainable_weights),
        "epochs_done": int(rows[-1]["epoch"]) + 1,
        "best_test_error": best["test_error"],
        "best_epoch": best["epoch"],
        "last_test_error": errors[-1],
        "test_error_per_epoch": errors,
        "images_per_second": (statistics.median(throughput.epoch_images_per_second)
                              if throughput.epoch_images_per_second else None),
    }


def _say(config, message):
    if config.verbose:
        print(f"[keras_procrustes] {message}", flush=True)
