"""The callbacks of a `fit` run, in their order: monitors, logs, the best model, the backup."""

import os

import keras

from keras_procrustes.training import callbacks as kp_callbacks
from keras_procrustes.training import checkpoints
from keras_procrustes.training import rundir
from keras_procrustes.training import tensorboard


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
