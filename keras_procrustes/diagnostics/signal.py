"""Signal propagation: forward statistics of the residual stream per block.

The statistics of Brock, De & Smith ("Characterizing signal propagation to
close the performance gap in unnormalized ResNets", ICLR 2021): at each
block's output, the average over channels of the squared channel mean and
of the channel variance, the means and variances taken over the batch and
every spatial position.
"""

import collections

import keras
from keras import ops

from keras_procrustes.diagnostics import batch as batch_lib
from keras_procrustes.diagnostics import blocks as blocks_lib
from keras_procrustes.diagnostics import compiled
from keras_procrustes.diagnostics import graph_run

SignalStatistics = collections.namedtuple(
    "SignalStatistics", "mean_squared variance")
SignalStatistics.__doc__ = """One block output's statistics.

Attributes:
    mean_squared: the average squared channel mean.
    variance: the average channel variance.
"""


def channel_statistics(values, channels_axis=-1):
    """`SignalStatistics` of a batch of activations.

    Args:
        values: a tensor `(batch, ..., channels)` (channels last by default).
        channels_axis: the channels axis.

    Returns:
        A `SignalStatistics` of floats.
    """
    return _statistics(_channel_moments(values, channels_axis))


def _statistics(moments):
    """`SignalStatistics` of floats from the pair `_channel_moments` gives."""
    return SignalStatistics(*(float(ops.convert_to_numpy(moment)) for moment in moments))


def _channel_moments(values, channels_axis=-1):
    """The average squared channel mean and channel variance, as tensors."""
    values = ops.moveaxis(ops.cast(values, "float32"), channels_axis, -1)
    flat = ops.reshape(values, (-1, values.shape[-1]))
    mean = ops.mean(flat, axis=0)
    variance = ops.mean(ops.square(flat - mean), axis=0)
    return ops.mean(ops.square(mean)), ops.mean(variance)


class _Recorder(graph_run.Touch):
    """Keeps the value of every block output; a stack's block by block."""

    def __init__(self, blocks):
        self.outputs = {id(b.output): None for b in blocks if b.output is not None}
        self.stacks = {}

    def tensor(self, symbolic, value):
        if id(symbolic) in self.outputs:
            self.outputs[id(symbolic)] = value
        return value

    def stack(self, layer, inputs, training):
        # The stack's blocks one at a time, with its own block function.
        training = bool(training) and layer.trainable
        x, outputs = inputs, []
        for index in range(layer.num_blocks):
            units = [{name: variable.value[index] for name, variable in unit.items()}
                     for unit in layer.units]
            x, _ = layer._block(x, units, training)
            outputs.append(x)
        self.stacks[id(layer)] = outputs
        return x


def signal_propagation(model, x, training=True):
    """Forward statistics at each residual block's output, in graph order.

    Blocks are found as by `gradient_norm_ratios` (`diagnostics.find_blocks`).
    No variable is changed: batch norm in training mode normalises with the
    batch's moments and its moving statistics stay as they are.

    Args:
        model: a functional or Sequential Keras model (e.g.
            `keras.applications.ResNet50V2(weights=None)`).
        x: a batch of inputs of the model's input shape (uint8 images are
            cast to the input's dtype, as `predict` casts them).
        training: batch-norm mode (default `True`: the statistics the
            network sees while it trains).

    Returns:
        A dict, block name -> `SignalStatistics(mean_squared, variance)`,
        channels last.

    Raises:
        ValueError: as `gradient_norm_ratios` (an empty batch, or one that
            does not fit the model's input, included).

    Example:
    >>> stats = signal_propagation(model, x[:8])
    >>> stats["conv2_block1_out"].variance
    """
    names = blocks_lib.block_names(model)
    blocks = blocks_lib.find_blocks(model)
    if blocks_lib.graph_of(model) is None:
        raise ValueError(
            f"Model '{model.name}' is not functional or Sequential: it has no "
            "graph to take the block outputs from."
        )
    x = batch_lib.model_batch(model, x)
    moments = _block_moments(model, blocks, training)(compiled.variable_values(model), x)
    return {name: _statistics(pair) for name, pair in zip(names, moments)}


def _block_moments(model, blocks, training):
    """A function `(values, x) -> [(mean_squared, variance)]` per block output.

    `values` are the values of `model.variables`; the function is compiled
    on JAX and kept on the model (`compiled.kept_on_model`).
    """
    variables = model.variables

    def make():
        def block_moments(values, x):
            recorder = _Recorder(blocks)
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                graph_run.run(model, x, recorder, training)
            outputs = []
            for block in blocks:
                if isinstance(block.layer, blocks_lib.IdentityResidualStack):
                    outputs.extend(recorder.stacks[id(block.layer)])
                else:
                    outputs.append(recorder.outputs[id(block.output)])
            return [_channel_moments(output) for output in outputs]

        return None, block_moments

    return compiled.kept_on_model(
        model, "_keras_procrustes_block_moments", training, make)[1]
