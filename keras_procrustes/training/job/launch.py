"""Starting a run: its folder's plan and its devices, agreed by every process of a job, and the backup it resumes from."""

import os

import keras
import numpy as np

from keras_procrustes.checks import MAX_COUNT
from keras_procrustes.training import errors
from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.job import across_processes
from keras_procrustes.training.job import cluster as job
from keras_procrustes.training.job import distribute
from keras_procrustes.training.run import backup as backups
from keras_procrustes.training.run import folder as run_folder
from keras_procrustes.training.run import manifest as run_manifest


def plan_run(config, run_options):
    """The run's plan and devices; in a job, process 0 plans and tells the others.

    A single process plans first (a bad folder is refused before the backend
    starts). A process of a job joins it first (`jax.distributed`), then
    process 0 alone reads the run folder and sends the epoch to start at.

    Args:
        config: the checked `TrainingConfig`.
        run_options: `config.run_options()`.

    Returns:
        `(RunPlan, Devices)`; the plan holds the lock on its folder (release
        it when the run ends). On processes other than 0 the plan holds only
        the folder and the first epoch.

    Raises:
        OptionError: for a run folder that can't be used, or the SVD engine
            on devices where it hangs.
        RunStateError: for a run folder whose state can't be resumed.
    """
    cluster = config.cluster()
    if cluster is None:
        run = run_folder.open_run(config.log_dir, config.existing, run_options, config.model)
        try:
            devices = _configure(config, None)
            run_folder.check_replicas(run, devices.replicas)
        except BaseException:
            run.lock.release()
            raise
        return run, devices
    devices = _configure(config, cluster)
    run = error = None
    if devices.is_chief:
        try:
            run = run_folder.open_run(config.log_dir, config.existing, run_options, config.model)
            run_folder.check_replicas(run, devices.replicas)
        except (OptionError, errors.RunStateError) as caught:
            if run is not None:
                run.lock.release()
            run, error = None, caught
    first_epoch = int(across_processes.broadcast_from_chief(
        np.int64(-1 if error is not None or run is None else run.first_epoch)))
    if error is not None:
        raise error
    if first_epoch < 0:
        raise errors.RunStateError(
            f"process 0 can't use the run folder {config.log_dir} (its output says why)")
    return run or run_folder.RunPlan(config.log_dir, first_epoch), devices


def check_global_batch(config, train_examples, devices):
    """Refuses a global batch larger than the training set on several replicas.

    With several replicas each epoch's last short batch is dropped, so such
    a run would have no step at all.

    Args:
        config: the `TrainingConfig`.
        train_examples: the training images.
        devices: the `Devices`.

    Raises:
        OptionError: naming `batch_size`.
    """
    global_batch = config.batch_size * devices.replicas
    if devices.replicas > 1 and global_batch > train_examples:
        raise OptionError(
            "batch_size", config.batch_size, f"the global batch {global_batch} ({devices.replicas}"
            f" replicas) is more than the {train_examples} training images, and "
            "several replicas train on whole batches only: lower --batch-size or use more images")


def check_step_count(config, steps):
    """Refuses a run of more steps than a step counter holds (`checks.MAX_COUNT`).

    The optimizer's step counter and the schedule's boundaries are 32-bit
    ints on JAX; more steps would overflow them mid-run.

    Args:
        config: the `TrainingConfig`.
        steps: steps per epoch.

    Raises:
        OptionError: naming `epochs`.
    """
    total = config.epochs * steps
    if total > MAX_COUNT:
        raise OptionError(
            "epochs", config.epochs, f"gives {total} steps ({steps} per epoch), more than a "
            f"step counter holds ({MAX_COUNT}): lower --epochs or raise --batch-size")


def _configure(config, cluster):
    """`distribute.configure`, then the SVD engine refused where it would hang."""
    try:
        devices = distribute.configure(config.cpu_replicas, cluster, config.init_timeout)
    except OptionError as error:  # a job that can't start: named as the user gave it
        raise job.as_given(config, error) from None
    distribute.check_svd_engine(config.projection_engine)
    return devices


def start(run, run_options, model, devices, global_batch):
    """Claims the run folder (process 0) and loads the backup into `model`.

    Args:
        run: the `RunPlan`.
        run_options: `config.run_options()`, recorded in the manifest.
        model: the compiled model.
        devices: the `Devices`.
        global_batch: examples per step over all replicas.

    Returns:
        The optimizer's step count after the restore.
    """
    if devices.is_chief:
        run_manifest.claim(run, run_options, {
            "backend": keras.backend.backend(), "replicas": devices.replicas,
            "processes": devices.processes, "global_batch": global_batch})
    restore(model, run, devices)
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


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
        backups.restore(model, run.weights_path)
        return
    path = across_processes.share_file(run.weights_path, devices.is_chief, suffix=".weights.h5")
    try:
        backups.restore(model, path)
    finally:
        if not devices.is_chief:
            os.remove(path)
