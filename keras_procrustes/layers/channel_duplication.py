"""Channel duplication: `[x, x]` on the channel axis, a width change with no weights."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_procrustes")
class ChannelDuplication(keras.layers.Layer):
    """Concatenates the input with itself on the channel axis: `[x, x]`.

    The first form of Procrustes ResNets (Zaeemzadeh et al.,
    arXiv:1805.07477 v1, 2018) doubles the width this way, unscaled, after
    the stem and at each transition. The backward pass adds the gradients
    of the two halves. Channels last. It takes the `keras.layers.Layer`
    arguments (`name`, `dtype`, ...).

    Example:
    >>> x = keras.Input((16, 16, 64))
    >>> y = ChannelDuplication()(x)  # (16, 16, 128)
    """

    def call(self, inputs):
        return ops.concatenate([inputs, inputs], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else 2 * channels)

    def get_config(self):
        # Defined, so that Keras does not try to rebuild the config from the
        # `__init__` arguments (a `DTypePolicy` object is not serialisable).
        return super().get_config()
