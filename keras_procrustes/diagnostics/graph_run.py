"""A forward pass through a model's graph that can touch chosen tensors.

It runs a functional model node by node, as Keras' `Functional.call` does
(nested functional models are entered, not called as one layer), and lets a
caller change the value of any symbolic tensor as it is computed: add a zero
probe whose gradient is the gradient at that tensor, or record it. It reads
Keras' functional graph (`Functional._nodes_by_depth`, `Node.arguments`), the
same structure `Functional.call` runs.
"""

from keras import tree

from keras_procrustes.diagnostics import blocks as blocks_lib
from keras_procrustes.layers import IdentityResidualStack


class Touch:
    """What a `run` does at the tensors it is asked about.

    Subclasses override `tensor` (called for every tensor of every graph,
    model inputs included) and `stack` (called for every
    `IdentityResidualStack`, instead of calling it).
    """

    def tensor(self, symbolic, value):
        """The value to go on with at `symbolic`; default `value`."""
        return value

    def stack(self, layer, inputs, training):
        """The output of a stack; default the plain call."""
        return layer(inputs, training=training)


def run(model, inputs, touch, training=None):
    """Runs `model` on `inputs`, letting `touch` see every tensor.

    Args:
        model: a functional or Sequential model (or a plain layer, which is
            called as it is).
        inputs: the model's inputs (a tensor or a structure of them).
        touch: a `Touch`.
        training: passed to every layer that takes it.

    Returns:
        The model's outputs.
    """
    graph = blocks_lib.graph_of(model)
    if graph is None:
        if isinstance(model, IdentityResidualStack):
            return touch.stack(model, inputs, training)
        return model(inputs, training=training)
    values = {}
    for symbolic, value in zip(graph.inputs, tree.flatten(inputs)):
        values[id(symbolic)] = touch.tensor(symbolic, value)
    for node in blocks_lib.nodes_in_order(graph):
        if any(id(t) not in values for t in node.input_tensors):
            continue  # not computable from these inputs, as in Keras
        args, kwargs = node.arguments.fill_in(values)
        outputs = _call(node.operation, args, kwargs, touch, training)
        for symbolic, value in zip(node.outputs, tree.flatten(outputs)):
            values[id(symbolic)] = touch.tensor(symbolic, value)
    outputs = [values[id(t)] for t in graph.outputs]
    outputs = tree.pack_sequence_as(graph._outputs_struct, outputs)
    return outputs[0] if isinstance(outputs, list) and len(outputs) == 1 else outputs


def _call(operation, args, kwargs, touch, training):
    """One node's operation, as `Functional.call` calls it."""
    if blocks_lib.graph_of(operation) is not None:
        return run(operation, args[0], touch, training)
    if isinstance(operation, IdentityResidualStack):
        return touch.stack(operation, args[0], training)
    if "training" in getattr(operation, "_call_context_args", {}) and training is not None:
        kwargs = {**kwargs, "training": training}
    return operation(*args, **kwargs)
