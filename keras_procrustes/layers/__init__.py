"""Layers of Procrustes ResNets, usable in any Keras model."""

from keras_procrustes.layers.norm_preserving_transition import (
    NormPreservingTransition,
)
from keras_procrustes.layers.pixel_normalization import PixelNormalization
from keras_procrustes.layers.residual_block import IdentityResidualBlock
from keras_procrustes.layers.residual_block import ProjectionResidualBlock
from keras_procrustes.layers.residual_stack import IdentityResidualStack

__all__ = [
    "IdentityResidualBlock",
    "IdentityResidualStack",
    "NormPreservingTransition",
    "PixelNormalization",
    "ProjectionResidualBlock",
]
