"""`TrainingMonitor`: throughput and the projected layers' spectra in each epoch's logs.

Keras' `ProgbarLogger` shows a step time but puts nothing in the logs that
`TensorBoard`, `CSVLogger` and keras-tuner read; this one adds images per
second (validation excluded) and each `NormPreservingTransition`'s smallest
and largest singular value.
"""

import time

import keras

from keras_procrustes import diagnostics
from keras_procrustes.layers import NormPreservingTransition
from keras_procrustes.ops import spectral


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


