"""`NaNGuard`: training stops at the first non-finite value, saying what is kept.

Keras' `TerminateOnNaN` checks only the training loss, sets
`stop_training` (the epoch still ends, is logged and backed up) and says
nothing of what a restart can use; this one also checks the validation
values, raises at once, and names the backup that is kept.
"""

import math

import keras

from keras_procrustes.training.errors import RunStateError
from keras_procrustes.training.run import backup as backups


def _is_finite(value):
    """Whether a logged value is a finite number (values that are not numbers count as finite)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss or validation value, with a clear error.

    It checks the training loss after every batch, and the validation loss
    and metrics (`val_*`) at each epoch's end, where the weights can give
    NaN in inference (with batch norm's moving statistics) and not in
    training. It raises instead of setting `stop_training`, so `fit` ends
    at once and the last backup (from the end of the last good epoch) is
    kept for a restart: put it before the callbacks that record an epoch.
    The message says whether there is a backup.

    Args:
        backup_dir: the `RunBackup` folder, or `None`.
    """

    def __init__(self, backup_dir=None):
        super().__init__()
        self.backup_dir = backup_dir
        self.epoch = 0  # the epoch running (0-based)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise FloatingPointError(
                f"The training loss became {float(loss)} at epoch {self.epoch + 1}, "
                f"batch {batch + 1}; training stopped. {self._what_is_kept()}"
            )

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            if key.startswith("val_") and not _is_finite(value):
                raise FloatingPointError(
                    f"The validation value {key} became {float(value)} at the end of "
                    f"epoch {epoch + 1}; training stopped. {self._what_is_kept()}"
                )

    def _what_is_kept(self):
        # A resumed run must keep its options, so a lower --lr is a new run.
        again = ("start again with a lower --lr and --existing new (a new run beside this "
                 "one; existing='new' in fit)")
        if not self.backup_dir:
            return again[0].upper() + again[1:] + "."
        try:
            epochs_done, _ = backups.read_backup(self.backup_dir)
        except RunStateError:
            epochs_done = 0
        if not epochs_done:
            return f"No epoch had finished, so there is no backup: {again}."
        return f"The backup of epoch {epochs_done} in {self.backup_dir} is kept; {again}."
