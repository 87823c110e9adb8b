"""Norm-preservation diagnostics for any Keras model.

- `gradient_norm_ratios`: `||dL/d block input|| / ||dL/d block output||` per
  residual block (Zaeemzadeh et al., TPAMI 2020), blocks found from the
  graph: `Add` merges in any functional model (e.g.
  `keras.applications.ResNet50V2`) and this package's layers.
- `signal_propagation`: the residual stream's average squared channel mean
  and average channel variance per block (Brock et al., ICLR 2021).
- `operator_norm`: the largest singular value of a Dense or convolution
  layer's map as Keras computes it (strides, zero padding, dilation, groups).
- `operator_singular_values`: the full spectrum of the stride-1 circular
  convolution, exact by the FFT.

The first two run the model's graph in one function (`compiled`): on JAX it
is compiled once per model and kept on it, so a measurement every epoch
does not trace or compile again.
"""

from keras_procrustes.diagnostics.blocks import MEASURED_TYPES
from keras_procrustes.diagnostics.blocks import Block
from keras_procrustes.diagnostics.blocks import block_names
from keras_procrustes.diagnostics.blocks import find_blocks
from keras_procrustes.diagnostics.blocks import identity_block_names
from keras_procrustes.diagnostics.blocks import layers_of_type
from keras_procrustes.diagnostics.blocks import measured_layers
from keras_procrustes.diagnostics.operators import operator_norm
from keras_procrustes.diagnostics.operators import operator_singular_values
from keras_procrustes.diagnostics.ratios import gradient_norm_ratios
from keras_procrustes.diagnostics.signal import SignalStatistics
from keras_procrustes.diagnostics.signal import signal_propagation

__all__ = [
    "MEASURED_TYPES",
    "Block",
    "SignalStatistics",
    "block_names",
    "find_blocks",
    "gradient_norm_ratios",
    "identity_block_names",
    "layers_of_type",
    "measured_layers",
    "operator_norm",
    "operator_singular_values",
    "signal_propagation",
]
