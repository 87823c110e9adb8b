"""Layers of ProcrustesResNets, usable in any Keras model."""

from keras_procrustes.layers import deprecated as _deprecated
from keras_procrustes.layers.norm_preserving_transition import (
    NormPreservingTransition,
)
from keras_procrustes.layers.channel_duplication import ChannelDuplication
from keras_procrustes.layers.l2_pooling import GlobalL2Pooling2D
from keras_procrustes.layers.l2_pooling import L2Pooling2D
from keras_procrustes.layers.orthonormal_dense import OrthonormalDense
from keras_procrustes.layers.parameter_free_transition import ParameterFreeTransition
from keras_procrustes.layers.residual_block import ConvShortcutResidualBlock
from keras_procrustes.layers.pixel_normalization import PixelNormalization
from keras_procrustes.layers.residual_block import IdentityResidualBlock
from keras_procrustes.layers.residual_stack import IdentityResidualStack

__all__ = [
    "ChannelDuplication",
    "ConvShortcutResidualBlock",
    "GlobalL2Pooling2D",
    "IdentityResidualBlock",
    "IdentityResidualStack",
    "L2Pooling2D",
    "NormPreservingTransition",
    "OrthonormalDense",
    "ParameterFreeTransition",
    "PixelNormalization",
]


def __getattr__(name):
    """An old layer name (`ProjectionResidualBlock`): warns, returns it."""
    if name in _deprecated.RENAMED_LAYERS:
        _deprecated.renamed_layer_warning(name)
        return getattr(_deprecated, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
