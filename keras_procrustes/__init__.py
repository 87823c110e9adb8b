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

from keras_procrustes import quiet as _quiet

_quiet.quiet_tensorflow()  # a command's start; nothing for a library user

from keras_procrustes import constraints  # noqa: E402
from keras_procrustes import diagnostics  # noqa: E402
from keras_procrustes import initializers  # noqa: E402
from keras_procrustes import layers  # noqa: E402
from keras_procrustes import models  # noqa: E402
from keras_procrustes import spectral  # noqa: E402
from keras_procrustes.constraints import ProcrustesProjection  # noqa: E402
from keras_procrustes.layers import IdentityResidualBlock  # noqa: E402
from keras_procrustes.layers import NormPreservingTransition  # noqa: E402

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
