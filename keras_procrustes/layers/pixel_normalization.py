"""`PixelNormalization`: the input layer `(x - mean) / std` of fixed statistics.

`keras.layers.Normalization` built with given `mean` and `variance` keeps
them as eager tensors made in `build`. A traced call captures such tensors
as inputs of the function; `tf2onnx.convert.from_function`, which
`model.export(format="onnx")` uses on TensorFlow, lists every captured
tensor that is not a variable as an input of the ONNX graph (tf2onnx 1.17,
`tf2onnx/convert.py`), so the exported file asks for the statistics as two
more inputs. No upstream issue was found for it. This layer holds them as
NumPy arrays, which a traced call embeds as constants on every backend.
"""

import keras


@keras.saving.register_keras_serializable(package="keras_procrustes")
class PixelNormalization(keras.layers.Normalization):
    """`keras.layers.Normalization` whose given statistics export as constants.

    Computes what `keras.layers.Normalization` computes, with the same
    arguments and config. With `mean` and `variance` given, the statistics
    are NumPy arrays after `build`, so a traced call (`tf.function`,
    `jax.jit`, `torch.onnx.export`) holds them as constants, not as captured
    inputs. Adapted statistics (`mean=None`) stay as in Keras.

    Args:
        **kwargs: `keras.layers.Normalization` arguments (`mean`,
            `variance`, `axis`, `invert`, `name`, `dtype`, ...).

    Example:
    >>> layer = PixelNormalization(mean=[127.5] * 3, variance=[127.5**2] * 3)
    >>> layer(keras.ops.full((1, 2, 2, 3), 255.0))[0, 0, 0]  # [1, 1, 1]
    """

    def build(self, input_shape):
        super().build(input_shape)
        if self.input_mean is not None and self.built:
            self.mean = keras.ops.convert_to_numpy(self.mean)
            self.variance = keras.ops.convert_to_numpy(self.variance)
