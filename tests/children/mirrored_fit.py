"""Fits a small ProcrustesResNet under MirroredStrategy over two logical CPUs.

Run as a script (the logical devices must exist before TensorFlow starts);
prints one JSON line: per projected layer, the largest difference between
the replicas' kernels and the operator's singular-value range.
"""

import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402

from keras_procrustes import models  # noqa: E402
from keras_procrustes.ops import spectral  # noqa: E402


def main(probability, steps):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16 * steps, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, 16 * steps)
    with strategy.scope():
        model = models.resnet(
            11, "bottleneck", input_shape=(8, 8, 3), classes=3, projection_probability=probability
        )
        model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    report = {"replicas": strategy.num_replicas_in_sync}
    for name in ("stem_conv", "transition1", "transition2"):
        layer = model.get_layer(name)
        copies = [np.asarray(v) for v in layer.kernel.value.values]
        values = np.asarray(
            spectral.conv_singular_values(copies[0], layer.projection.spatial_shape)
        )
        report[name] = {
            "replica_difference": float(np.abs(copies[0] - copies[1]).max()),
            "min_singular_value": float(values.min()),
            "max_singular_value": float(values.max()),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main(float(sys.argv[1]), int(sys.argv[2]))
