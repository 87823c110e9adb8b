"""Training callbacks: throughput and spectra into `logs`, and a NaN stop."""

import math
import time

import keras
import numpy as np

from keras_procrustes import diagnostics
from keras_procrustes.layers import NormPreservingTransition


def projected_layers(model):
    """The `NormPreservingTransition` layers of a model, in order.

    Args:
        model: a Keras model.

    Returns:
        A list of layers.
    """
    found = []
    for layer in model.layers:
        if isinstance(layer, NormPreservingTransition):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(projected_layers(layer))
    return found


def singular_value_range(layer):
    """Smallest and largest singular value of a projected layer's operator.

    Args:
        layer: a built `NormPreservingTransition`.

    Returns:
        `(min, max)` as floats, at the layer's input size (stride 1,
        circular padding).
    """
    values = keras.ops.convert_to_numpy(diagnostics.operator_singular_values(layer))
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


class StartRecorder(keras.callbacks.Callback):
    """Records the optimizer's step count when training begins.

    Placed after `BackupAndRestore`, it reads the restored count: a resumed
    run starts with the steps of its finished epochs.
    """

    iterations_at_start = None

    def on_train_begin(self, logs=None):
        self.iterations_at_start = int(
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        )


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss, with a clear error.

    It raises instead of setting `stop_training`, so `fit` ends before
    `BackupAndRestore.on_train_end`, and the last backup (from the end of the
    last good epoch) is kept for a restart.

    Args:
        backup_dir: named in the message, or `None`.
    """

    def __init__(self, backup_dir=None):
        super().__init__()
        self.backup_dir = backup_dir
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            where = (
                f" The backup of the last finished epoch in {self.backup_dir} "
                "is intact: lower the learning rate and rerun the same command "
                "to resume from it."
                if self.backup_dir
                else ""
            )
            raise FloatingPointError(
                f"The training loss became {float(loss)} at epoch "
                f"{self._epoch + 1}, batch {batch + 1}; training stopped.{where}"
            )


class NormPreservationMonitor(keras.callbacks.Callback):
    """Puts the gradient norm ratio of every block into `logs`, every N epochs.

    On a fixed batch `(x, y)` it computes
    `diagnostics.gradient_norm_ratios` and adds `grad_norm_ratio/<layer>`
    for each residual block and transition, plus
    `grad_norm_ratio_max_log_deviation`, the largest `|ln ratio|` (0 when
    every block preserves the norm). Put it before `TensorBoard` and
    `CSVLogger` in the callback list so that they log the figures. With
    `log_dir`, it also writes TensorBoard histograms of the ratios and of
    their logarithms (`grad_norm_ratio`, `log_grad_norm_ratio`). Every
    epoch's ratios are kept in `history` (epoch -> dict). The callback holds
    arrays and numbers only, so `copy.deepcopy` (as keras-tuner does) works.

    Args:
        x: a batch of inputs (numpy or tensor).
        y: its targets.
        every: measure at the end of every `every` epochs (and before
            training, as epoch 0, when `at_start=True`).
        log_dir: a folder for the TensorBoard histograms, or `None`.
        loss: the loss to differentiate; default the model's.
        at_start: also measure before the first epoch.
    """

    def __init__(self, x, y, every=1, log_dir=None, loss=None, at_start=True):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be a positive int. Received every={every}")
        self.x = np.asarray(x)
        self.y = np.asarray(y)
        self.every = every
        self.log_dir = log_dir
        self.loss = loss
        self.at_start = at_start
        self.history = {}

    def _measure(self, epoch):
        ratios = diagnostics.gradient_norm_ratios(self.model, self.x, self.y, loss=self.loss)
        self.history[epoch] = ratios
        if self.log_dir:
            self._write_histograms(epoch, ratios)
        return ratios

    def _write_histograms(self, epoch, ratios):
        import tensorflow as tf

        values = np.array(list(ratios.values()), dtype="float64")
        writer = tf.summary.create_file_writer(self.log_dir)
        with writer.as_default(step=epoch):
            tf.summary.histogram("grad_norm_ratio", values)
            tf.summary.histogram("log_grad_norm_ratio", np.log(values))
        writer.close()

    def on_train_begin(self, logs=None):
        if self.at_start:
            self._measure(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        ratios = self._measure(epoch + 1)
        if logs is not None:
            for name, ratio in ratios.items():
                logs[f"grad_norm_ratio/{name}"] = ratio
            logs["grad_norm_ratio_max_log_deviation"] = float(
                np.max(np.abs(np.log(list(ratios.values()))))
            )
