"""Weights between a model's unrolled and scanned forms.

Example:
>>> unrolled = models.resnet1001(scan=False)
>>> unrolled.load_weights("unrolled.weights.h5")
>>> scanned = models.resnet1001(scan=True)
>>> models.convert_weights(unrolled, scanned)
"""

import keras
import numpy as np
from keras import ops

from keras_procrustes.layers import IdentityResidualBlock
from keras_procrustes.layers import IdentityResidualStack
from keras_procrustes.layers.deprecated import current_layer_name


def _unrolled_block_variables(block):
    """An identity block's variables in `IdentityResidualStack` order."""
    return [
        variable
        for norm, conv in zip(block.norms, block.convs)
        for variable in (norm.gamma, norm.beta, norm.moving_mean,
                         norm.moving_variance, conv.kernel)
    ]


def _named_arrays(model):
    """Name -> weight arrays: one entry per identity block (scanned or not)
    and per other layer with weights."""
    arrays = {}
    for layer in model.layers:
        if isinstance(layer, IdentityResidualStack):
            stacked = [ops.convert_to_numpy(v) for v in layer.block_weights()]
            for index, name in enumerate(layer.block_names):
                arrays[name] = [array[index] for array in stacked]
        elif type(layer) is IdentityResidualBlock:
            arrays[layer.name] = [
                ops.convert_to_numpy(v) for v in _unrolled_block_variables(layer)
            ]
        elif layer.weights:
            arrays[current_layer_name(layer)] = [
                ops.convert_to_numpy(v) for v in layer.weights
            ]
    return arrays


def convert_weights(source, target):
    """Copies every weight of `source` into `target`, across the two forms.

    The two models must be the same architecture, each stage's identity
    blocks unrolled (`IdentityResidualBlock`s) or scanned (one
    `IdentityResidualStack`) in either; blocks are matched by name
    (`stage2_block7` in both forms), other layers by layer name (a
    deprecated `ProjectionResidualBlock` named by Keras,
    `projection_residual_block_1`, as `conv_shortcut_residual_block_1`, its
    name in a model built now). Moving statistics are copied too, so both
    give the same outputs.

    Args:
        source: a built model, e.g. `models.resnet1001(scan=False)` with
            weights loaded.
        target: a built model of the same architecture, e.g.
            `models.resnet1001(scan=True)`.

    Returns:
        `target`, its weights replaced.

    Raises:
        TypeError: naming `source` or `target` when it is not a Keras model.
        ValueError: naming the first block or layer that does not match;
            `target` is then unchanged.
    """
    for name, model in (("source", source), ("target", target)):
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"`{name}` must be a built Keras model (e.g. models.resnet1001(scan=False)). "
                f"Received {name}={model!r} of type {type(model).__name__}"
            )
    arrays = _named_arrays(source)
    wanted = _named_arrays(target)
    if set(arrays) != set(wanted):
        missing = sorted(set(wanted) - set(arrays))
        extra = sorted(set(arrays) - set(wanted))
        raise ValueError(
            f"Models '{source.name}' and '{target.name}' differ: the target "
            f"has {missing[:5]} that the source lacks, and the source "
            f"{extra[:5]} that the target lacks."
        )
    for name, target_arrays in wanted.items():
        shapes = [a.shape for a in target_arrays]
        if shapes != [a.shape for a in arrays[name]]:
            raise ValueError(
                f"Block or layer '{name}' has weights of shapes {shapes} in "
                f"'{target.name}' but {[a.shape for a in arrays[name]]} in "
                f"'{source.name}'."
            )
    for layer in target.layers:
        if isinstance(layer, IdentityResidualStack):
            per_block = [arrays[name] for name in layer.block_names]
            for index, variable in enumerate(layer.block_weights()):
                variable.assign(np.stack([weights[index] for weights in per_block]))
        elif type(layer) is IdentityResidualBlock:
            for variable, array in zip(_unrolled_block_variables(layer), arrays[layer.name]):
                variable.assign(array)
        elif layer.weights:
            for variable, array in zip(layer.weights, arrays[current_layer_name(layer)]):
                variable.assign(array)
    return target
