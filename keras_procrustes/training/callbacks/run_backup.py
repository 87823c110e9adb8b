"""`RunBackup`: the epoch backup a killed run resumes from.

Keras' `BackupAndRestore` keeps one backup folder it deletes when training
ends and restores it only into the same `fit` call's model; this one
writes one weights file and its metadata atomically (a kill at any moment
leaves the last complete backup), checks the disk first, and is read by the
run folder's resume (`run.backup`).
"""

import os

import keras

from keras_procrustes.training.job import across_processes
from keras_procrustes.training.run import backup as backups
from keras_procrustes.training.run import names as run_names
from keras_procrustes.training.run.atomic import check_space
from keras_procrustes.training.run.atomic import write_json
from keras_procrustes.training.run.atomic import writing


class RunBackup(keras.callbacks.Callback):
    """Backs up weights and optimizer state at every epoch's end.

    Weights go to `epoch-NNNN.weights.h5`, then `backup.json` names them
    (written atomically), then older weights files of that pattern are
    deleted. Put it last in the callback list, so that an epoch's logs and
    best model are written before the epoch counts as done.

    Args:
        folder: the backup folder (made if missing).
    """

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.folder, exist_ok=True)
        weights = f"epoch-{epoch + 1:04d}.weights.h5"
        path = os.path.join(self.folder, weights)
        check_space(path, self.model)
        with writing(path, partial=path), across_processes.local_only():
            self.model.save_weights(path, overwrite=True)
        write_json(
            os.path.join(self.folder, run_names.BACKUP_METADATA), {"epoch": epoch + 1, "weights": weights}
        )
        for name in backups.listdir(self.folder):
            if run_names.BACKUP_WEIGHTS.fullmatch(name) and name != weights:
                os.remove(os.path.join(self.folder, name))
