"""keras_procrustes: ProcrustesResNets (norm-preserving residual networks) for Keras 3.

ProcrustesResNet is Zaeemzadeh, Rahnavard & Shah, "Norm-Preservation: Why
Residual Networks Can Become Extremely Deep?", TPAMI 2020
(arXiv:1805.07477); it runs on TensorFlow, JAX and PyTorch.

The core (`layers`, `constraints`, `models`, `spectral`, `diagnostics`) is
`keras.ops` only and needs Keras, NumPy and a backend. The training side
(`data`, `training`, and the commands in `cli`) uses tf.data, TensorBoard
and keras-tuner, from the `[train]` and `[tune]` extras; import it by name
(see `keras_procrustes.optional`).
"""

from keras_procrustes import constraints
from keras_procrustes import diagnostics
from keras_procrustes import initializers
from keras_procrustes import layers
from keras_procrustes import models
from keras_procrustes import spectral
from keras_procrustes.constraints import ProcrustesProjection
from keras_procrustes.layers import IdentityResidualBlock
from keras_procrustes.layers import NormPreservingTransition

__version__ = "0.4.0"  # the one place; pyproject.toml reads it

__all__ = [
    "IdentityResidualBlock",
    "NormPreservingTransition",
    "ProcrustesProjection",
    "constraints",
    "diagnostics",
    "initializers",
    "layers",
    "models",
    "spectral",
]
