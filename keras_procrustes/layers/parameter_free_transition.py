"""`ParameterFreeTransition`: L2 pooling then channel duplication, no weights."""

import keras

from keras_procrustes import checks
from keras_procrustes.layers.channel_duplication import ChannelDuplication
from keras_procrustes.layers.l2_pooling import L2Pooling2D


@keras.saving.register_keras_serializable(package="keras_procrustes")
class ParameterFreeTransition(keras.layers.Layer):
    """The 2018 form's transition: `L2Pooling2D(pool_size)`, then `[x, x]`.

    Between stages, the first form of Procrustes ResNets (Zaeemzadeh et
    al., arXiv:1805.07477 v1, 2018) halves the resolution with
    non-overlapping L2 pooling, which keeps the activation's norm, and
    doubles the width by duplicating the channels. One layer holds both, so
    that `diagnostics.gradient_norm_ratios` measures the transition as one
    unit, as it measures the 2020 form's `NormPreservingTransition`.

    Args:
        pool_size: the pooling window's side and stride.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> x = keras.Input((32, 32, 64))
    >>> y = ParameterFreeTransition()(x)  # (16, 16, 128)
    """

    def __init__(self, pool_size=2, **kwargs):
        super().__init__(**kwargs)
        checks.check_positive_int("pool_size", pool_size)
        self.pool_size = pool_size
        self.pooling = L2Pooling2D(pool_size, dtype=self.dtype_policy, name="l2_pool")
        self.duplication = ChannelDuplication(dtype=self.dtype_policy, name="duplication")

    def build(self, input_shape):
        self.pooling.build(input_shape)
        self.duplication.build(self.pooling.compute_output_shape(input_shape))

    def call(self, inputs):
        return self.duplication(self.pooling(inputs))

    def compute_output_shape(self, input_shape):
        pooled = self.pooling.compute_output_shape(input_shape)
        return self.duplication.compute_output_shape(pooled)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}
