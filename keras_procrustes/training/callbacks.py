"""Training callbacks: throughput, spectra, a NaN stop (and the norm-preservation monitor, from `norm_monitor`).

These belong to the training side: `NormPreservationMonitor` writes
TensorBoard summaries with `tf.summary`.
"""

import math
import time

import keras

from keras_procrustes import diagnostics
from keras_procrustes.ops import spectral
from keras_procrustes.layers import NormPreservingTransition
from keras_procrustes.training import checkpoints
from keras_procrustes.training.norm_monitor import NormPreservationMonitor  # noqa: F401  (its public place)


def projected_layers(model):
    """The `NormPreservingTransition` layers of a model, in order.

    Args:
        model: a Keras model.

    Returns:
        A list of layers.
    """
    return diagnostics.layers_of_type(model, NormPreservingTransition)


def singular_value_range(layer):
    """Smallest and largest singular value of a projected layer's operator.

    Args:
        layer: a built `NormPreservingTransition`.

    Returns:
        `(min, max)` as floats, at the layer's input size (stride 1,
        circular padding).
    """
    # From a host copy of the kernel: a computation on this process's
    # default device only, so no process waits for another, and JAX's
    # batched CPU SVD never runs on several devices at once.
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    values = keras.ops.convert_to_numpy(
        spectral.conv_singular_values(kernel, layer.projection.spatial_shape))
    return float(values.min()), float(values.max())


class TrainingMonitor(keras.callbacks.Callback):
    """Adds throughput and the projected layers' spectra to epoch `logs`.

    Keys added at each epoch's end, so that `TensorBoard`, `CSVLogger` and
    keras-tuner see them (put this callback before those):
    `images_per_second` (training images over training time, validation
    excluded), and `singular_value_min/<layer>`, `singular_value_max/<layer>`
    for every `NormPreservingTransition`.

    Args:
        examples_per_epoch: training examples in one epoch.
    """

    def __init__(self, examples_per_epoch):
        super().__init__()
        self.examples_per_epoch = examples_per_epoch
        self.epoch_images_per_second = []
        self._epoch_start = None
        self._train_seconds = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._train_seconds = None

    def on_test_begin(self, logs=None):
        if self._epoch_start is not None and self._train_seconds is None:
            self._train_seconds = time.perf_counter() - self._epoch_start

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        seconds = self._train_seconds or (time.perf_counter() - self._epoch_start)
        logs["images_per_second"] = self.examples_per_epoch / seconds
        self.epoch_images_per_second.append(logs["images_per_second"])
        for layer in projected_layers(self.model):
            low, high = singular_value_range(layer)
            logs[f"singular_value_min/{layer.name}"] = low
            logs[f"singular_value_max/{layer.name}"] = high


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
            epochs_done, _ = checkpoints.read_backup(self.backup_dir)
        except checkpoints.RunStateError:
            epochs_done = 0
        if not epochs_done:
            return f"No epoch had finished, so there is no backup: {again}."
        return f"The backup of epoch {epochs_done} in {self.backup_dir} is kept; {again}."
