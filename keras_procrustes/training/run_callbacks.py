"""The callbacks of a `fit` run, in their order: monitors, logs, the best model, the backup."""

import os

import keras

from keras_procrustes.training.callbacks import best_model_checkpoint
from keras_procrustes.training.callbacks import nan_guard
from keras_procrustes.training.callbacks import norm_preservation_monitor
from keras_procrustes.training.callbacks import run_backup
from keras_procrustes.training.callbacks import run_tensorboard
from keras_procrustes.training.callbacks import training_monitor
from keras_procrustes.training.run import names as run_names


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
    monitor = training_monitor.TrainingMonitor(info.train_examples)
    backup_dir = os.path.join(run.path, run_names.BACKUP_DIR) if config.backup else None
    callback_list = [monitor, nan_guard.NaNGuard(backup_dir)]
    if config.grad_norm_every:
        callback_list.append(norm_preservation_monitor.NormPreservationMonitor(
            *probe, every=config.grad_norm_every, log_dir=os.path.join(run.path, "train"),
            at_start=False, log_each_block=False))
    if not writes:
        return callback_list
    callback_list += [
        keras.callbacks.CSVLogger(os.path.join(run.path, run_names.HISTORY), append=True),
        best_model_checkpoint.BestModelCheckpoint(run.path, run.best),
        run_tensorboard.RunTensorBoard(run.path),
    ]
    if backup_dir:
        callback_list.append(run_backup.RunBackup(backup_dir))
    return callback_list
