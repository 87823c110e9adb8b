"""Gradient norm ratios: `||dL/d block input|| / ||dL/d block output||`.

The ratio of Zaeemzadeh et al. ("Norm-preservation: why residual networks
can become extremely deep?", TPAMI 2020): identity blocks stay near 1,
dimension-changing blocks are the outliers, and projecting their
convolutions brings them back to 1.
"""

import keras
import numpy as np
from keras import ops

from keras_procrustes.diagnostics import batch as batch_lib
from keras_procrustes.diagnostics import blocks as blocks_lib
from keras_procrustes.diagnostics import compiled
from keras_procrustes.diagnostics import graph_run
from keras_procrustes.ops import autodiff


def loss_function(model, loss):
    """The Keras loss to differentiate: `loss`, else the model's, else sparse CE."""
    if loss is None:
        loss = getattr(model, "loss", None) or "sparse_categorical_crossentropy"
    return keras.losses.get(loss)


def _class_count(model):
    """The width of the model's only output, or None (several, unknown)."""
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) != 1 or outputs[0].shape[-1] is None:
        return None
    return int(outputs[0].shape[-1])


def check_labels(model, loss_fn, y):
    """Raises a ValueError if a sparse cross-entropy's labels are no class.

    Out of range, TensorFlow and torch raise in the loss and JAX returns
    NaN; the check makes it one error on every backend.

    Args:
        model: the model whose output width is the class count.
        loss_fn: the loss, as `loss_function` returns it; any loss other
            than sparse categorical cross-entropy is not checked.
        y: the labels.

    Raises:
        ValueError: naming the first label that is not an int in
            `[0, classes)` (the loss's `ignore_class` is allowed).
    """
    sparse = isinstance(loss_fn, keras.losses.SparseCategoricalCrossentropy)
    if not sparse and loss_fn is not keras.losses.sparse_categorical_crossentropy:
        return
    classes = _class_count(model)
    if classes is None:
        return
    labels = np.asarray(ops.convert_to_numpy(y)).ravel()
    ignored = getattr(loss_fn, "ignore_class", None)
    with np.errstate(invalid="ignore"):
        bad = ~((labels >= 0) & (labels < classes) & (labels == np.round(labels)))
    if ignored is not None:
        bad &= labels != ignored
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(
            f"`y` must hold class indices in [0, {classes}) for model "
            f"'{model.name}', whose output has {classes} classes. "
            f"Received y[{index}]={labels[index].item()!r}"
        )


class _Probes(graph_run.Touch):
    """Adds a zero probe at each block's input and output tensor.

    With zero probes nothing changes, and the gradient of the loss with
    respect to a probe is the gradient at its tensor. A tensor that is one
    block's output and the next one's input has one probe. A stack gets a
    pair of probes with a leading block axis.
    """

    def __init__(self, blocks):
        self.keys = {}  # id(symbolic tensor) or id(stack layer) -> probe index
        for block in blocks:
            for symbolic in (block.input, block.output):
                if block.layer is not None and isinstance(
                        block.layer, blocks_lib.IdentityResidualStack):
                    symbolic = block.layer
                self.keys.setdefault(id(symbolic), len(self.keys))
        self.shapes = {}
        self.values = None

    def probe(self, key):
        return None if self.values is None else self.values[self.keys[key]]

    def tensor(self, symbolic, value):
        key = id(symbolic)
        if key not in self.keys:
            return value
        if self.values is None:
            self.shapes[self.keys[key]] = tuple(ops.shape(value))
            return value
        return value + self.probe(key)

    def stack(self, layer, inputs, training):
        if id(layer) not in self.keys:
            return layer(inputs, training=training)
        if self.values is None:
            shape = (layer.num_blocks, 2, *ops.shape(inputs))
            self.shapes[self.keys[id(layer)]] = shape
            return layer(inputs, training=training)
        pair = self.probe(id(layer))
        return layer(inputs, training=training, probes=(pair[:, 0], pair[:, 1]))


def _probe_gradients(model, blocks, loss_fn, training):
    """The probes of `blocks` and a function `(values, x, y) -> the loss's gradients at them`.

    `values` are the values of `model.variables`; the function is compiled
    on JAX and kept on the model (`compiled.kept_on_model`).
    """
    variables = model.variables

    def make():
        probes = _Probes(blocks)

        def probe_gradients(values, x, y):
            state = list(zip(variables, values))
            with keras.StatelessScope(state_mapping=state):
                graph_run.run(model, x, probes, training)  # records concrete shapes
            zeros = [ops.zeros(probes.shapes[i], x.dtype) for i in range(len(probes.keys))]

            def batch_loss(probe_values):
                probes.values = probe_values
                try:
                    with keras.StatelessScope(state_mapping=state):
                        predictions = graph_run.run(model, x, probes, training)
                        return ops.mean(loss_fn(y, predictions))
                finally:
                    probes.values = None

            return autodiff.value_and_gradients(batch_loss, zeros)[1]

        return probes, probe_gradients

    return compiled.kept_on_model(
        model, "_keras_procrustes_probe_gradients", (loss_fn, training), make)


def _norms(gradient, leading):
    flat = ops.reshape(gradient, (leading, -1))
    return ops.convert_to_numpy(ops.sqrt(ops.sum(ops.square(flat), axis=1)))


def gradient_norm_ratios(model, x, y, loss=None, training=True):
    """`||dL/d block input|| / ||dL/d block output||` of each residual block.

    Blocks are found from the model's graph (`diagnostics.find_blocks`): an
    `Add` merge's output is the block output; the block input is the tensor
    where the skip path and the residual branch split (for an identity skip,
    the skip input itself; a block's pre-activation belongs to the block).
    This package's blocks, stacks and transitions are measured at their own
    input and output. Norms are over the whole batch. Batch norm runs in
    `training` mode (the paper measures during training); no variable is
    changed.

    Args:
        model: a functional or Sequential Keras model, e.g.
            `keras.applications.ResNet50V2(weights=None)`, or one of this
            package's models; nested functional models are searched too.
        x: a batch of inputs of the model's input shape (uint8 images are
            cast to the input's dtype, as `fit` casts them).
        y: the batch's targets.
        loss: a Keras loss (name, function or object); default the model's
            compiled loss, else sparse categorical cross-entropy. Its mean
            over the batch is differentiated.
        training: batch-norm mode.

    Returns:
        A dict, block name -> ratio (float), in graph order: an `Add`
        block under the `Add` layer's name (`conv2_block1_out`), a package
        layer under its name, a stack one entry per block
        (`stage1_block5`).

    Raises:
        ValueError: if the model has no block, two blocks share a name,
            the model has no functional graph to run, the batch is empty or
            does not fit the model's input (`model_batch`), or a label of a
            sparse categorical cross-entropy is not one of the model's
            classes (`check_labels`).

    Example:
    >>> model = keras.applications.ResNet50V2(weights=None, input_shape=(32, 32, 3))
    >>> ratios = gradient_norm_ratios(model, x[:8], y[:8])
    >>> ratios["conv3_block1_out"]
    """
    names = blocks_lib.block_names(model)
    blocks = blocks_lib.find_blocks(model)
    if blocks_lib.graph_of(model) is None:
        raise ValueError(
            f"Model '{model.name}' is not functional or Sequential: it has no "
            "graph to place the measurements in."
        )
    x = batch_lib.model_batch(model, x)
    loss_fn = loss_function(model, loss)
    check_labels(model, loss_fn, y)
    probes, probe_gradients = _probe_gradients(model, blocks, loss_fn, training)
    grads = probe_gradients(compiled.variable_values(model), x, ops.convert_to_tensor(y))
    ratios = []
    for block in blocks:
        if isinstance(block.layer, blocks_lib.IdentityResidualStack):
            pair = grads[probes.keys[id(block.layer)]]
            count = block.layer.num_blocks
            ratios.extend(_norms(pair[:, 0], count) / _norms(pair[:, 1], count))
        else:
            norm_in = _norms(grads[probes.keys[id(block.input)]], 1)
            norm_out = _norms(grads[probes.keys[id(block.output)]], 1)
            ratios.extend(norm_in / norm_out)
    return {name: float(ratio) for name, ratio in zip(names, ratios)}
