"""keras_procrustes: Procrustes ResNets (norm-preserving residual networks)
for Keras 3, on TensorFlow and JAX."""

from keras_procrustes import constraints
from keras_procrustes import layers
from keras_procrustes import models
from keras_procrustes import spectral
from keras_procrustes.constraints import ProcrustesProjection
from keras_procrustes.layers import IdentityResidualBlock
from keras_procrustes.layers import NormPreservingTransition

__version__ = "0.1.0"
