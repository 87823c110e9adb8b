"""`PixelNormalization`: the input layer `(x - mean) / std` of fixed statistics.

`keras.layers.Normalization` built with given `mean` and `variance` keeps
them as eager tensors made in `build`. A traced call captures such tensors
as inputs of the function; `tf2onnx.convert.from_function`, which
`model.export(format="onnx")` uses on TensorFlow, lists every captured
tensor that is not a variable as an input of the ONNX graph (tf2onnx 1.17,
`tf2onnx/convert.py`), so the exported file asks for the statistics as two
more inputs. No upstream issue was found for it. This layer holds them as
NumPy arrays, which a traced call embeds as constants on every backend.

`keras.layers.Normalization` also broadcasts: built for 3 channels, it
turns a 1-channel input into 3, and a Keras functional model lets a last
axis of 1 through its input check (`InputSpec(allow_last_axis_squeeze=
True)`), so an RGB model would predict on grey images. This layer refuses
inputs whose kept axes differ from those it was built for.
"""

import keras


@keras.saving.register_keras_serializable(package="keras_procrustes")
class PixelNormalization(keras.layers.Normalization):
    """`keras.layers.Normalization` whose given statistics export as constants.

    Computes what `keras.layers.Normalization` computes, with the same
    arguments and config. With `mean` and `variance` given, the statistics
    are NumPy arrays after `build`, so a traced call (`tf.function`,
    `jax.jit`, `torch.onnx.export`) holds them as constants, not as captured
    inputs. Adapted statistics (`mean=None`) stay as in Keras. Once built,
    it takes only inputs of the rank and channel count it was built for
    (not an unknown channel count either). It takes the
    `keras.layers.Normalization` arguments (`mean`, `variance`, `axis`,
    `invert`, `name`, `dtype`, ...).

    Example:
    >>> layer = PixelNormalization(mean=[127.5] * 3, variance=[127.5**2] * 3)
    >>> layer(keras.ops.full((1, 2, 2, 3), 255.0))[0, 0, 0]  # [1, 1, 1]
    """

    def build(self, input_shape):
        super().build(input_shape)
        if self.input_mean is not None and self.built:
            self.mean = keras.ops.convert_to_numpy(self.mean)
            self.variance = keras.ops.convert_to_numpy(self.variance)

    def call(self, inputs):
        self._check_shape(tuple(inputs.shape))
        return super().call(inputs)

    def _check_shape(self, shape):
        """Raises ValueError for an input of another rank or channel count.

        Args:
            shape: the input's shape.

        Raises:
            ValueError: naming the shape built for and the one received.
        """
        built = getattr(self, "_build_input_shape", None)
        if built is None:
            return
        built = tuple(built)
        axes = self._keep_axis if len(shape) == len(built) else ()
        # An unknown size is refused too: TensorFlow traces a function called
        # with a new shape again with that axis unknown (`tf.function(
        # reduce_retracing=True)`, as Keras' `predict` does), and this layer
        # would then broadcast one channel to all at run time.
        wrong = [a for a in axes if built[a] is not None and shape[a] != built[a]]
        if len(shape) == len(built) and not wrong:
            return
        unknown = (" (None: TensorFlow traced calls of several channel counts as one)"
                   if any(shape[a] is None for a in axes) else "")
        expected = ", ".join(f"axis {a} of size {built[a]}" for a in self._keep_axis)
        raise ValueError(
            f"Layer '{self.name}' normalises inputs of shape {built} per "
            f"channel ({expected}): the model takes images of that channel "
            f"count. Received inputs of shape {shape}{unknown}. Build the model for these "
            "images (`input_shape=(height, width, channels)`) or convert them "
            "(grey to RGB: `keras.ops.repeat(images, 3, axis=-1)`)."
        )
