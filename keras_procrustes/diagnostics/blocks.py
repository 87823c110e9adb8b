"""The residual blocks of a Keras model, found from its graph.

Two kinds of block are found, in graph order:

- This package's layers (`IdentityResidualBlock` and its subclasses,
  `IdentityResidualStack`, one block per stacked block, and
  `NormPreservingTransition`): the block input is the layer's input, the
  block output its output.
- A residual merge in any functional model: an `Add` layer (or the `+` of
  two symbolic tensors). Its output is the block output. The block input is
  the tensor where the skip path and the residual branch split: the nearest
  common dominator of the `Add`'s inputs, i.e. the last tensor that every
  path from the model's inputs to the `Add` passes through. For an identity
  skip that is the skip input itself. If the split happens after a
  pre-activation (normalisation and activation layers, as in ResNetV2's
  `preact_bn` and `preact_relu`) whose input feeds nothing else, the block
  input is the pre-activation's input: the pre-activation is part of the
  block, as in pre-activation ResNets (He et al., "Identity mappings in deep
  residual networks", 2016). So a block with a convolution or pooling
  shortcut is measured from the previous block's output too, and the blocks
  of a pre-activation ResNet chain: one block's output is the next one's
  input.

An `Add` whose inputs have no common dominator (two model inputs, say) is not
a residual block and is left out. Blocks inside a nested functional model (a
backbone used as a layer) are found at the nested model's place in the graph.
"""

import collections

import keras

from keras_procrustes.layers import IdentityResidualBlock
from keras_procrustes.layers import IdentityResidualStack
from keras_procrustes.layers import NormPreservingTransition
from keras_procrustes.layers import ParameterFreeTransition

MEASURED_TYPES = (IdentityResidualBlock, IdentityResidualStack, NormPreservingTransition,
                  ParameterFreeTransition)
"""This package's layers measured as blocks, besides the `Add` merges of any model."""

# Layers a pre-activation is made of: shape-preserving, one input.
PREACTIVATION_TYPES = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
)


class Block(collections.namedtuple("Block", "names input output layer identity")):
    """One residual block (or one stack of them) found in a graph.

    Attributes:
        names: the block's names: one, or one per block of a stack.
        input: the symbolic tensor at the block's input.
        output: the symbolic tensor at the block's output.
        layer: the package layer that is the block, or `None` for an `Add`.
        identity: whether the skip is an identity.
    """


def graph_of(model):
    """The functional graph of a model, or `None` if it has none.

    Args:
        model: a Keras model or layer.

    Returns:
        The `Functional` holding the graph (a `Sequential` model's inner
        one), or `None` for a subclassed model or a plain layer.
    """
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if hasattr(model, "_nodes_by_depth") and isinstance(model, keras.Model):
        return model
    return None


def nodes_in_order(graph):
    """The graph's call nodes (not its input nodes), inputs first."""
    nodes = []
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if node.operation is not None and not node.is_input:
                nodes.append(node)
    return nodes


def _is_add(operation):
    return isinstance(operation, keras.layers.Add) or type(operation).__name__ == "Add"


class _Dominators:
    """Immediate dominators of a graph's tensors (Cooper, Harvey & Kennedy)."""

    ROOT = 0  # a virtual tensor in front of every model input

    def __init__(self, graph, nodes):
        self.order = {self.ROOT: -1}
        self.parent = {}
        self.producer = {}
        self.consumers = collections.Counter()
        for tensor in graph.inputs:
            self.order[id(tensor)] = len(self.order)
            self.parent[id(tensor)] = self.ROOT
        for node in nodes:
            inputs = {id(t) for t in node.input_tensors}
            self.consumers.update(inputs)
            split = self.common(inputs) if inputs else self.ROOT
            for tensor in node.outputs:
                self.order[id(tensor)] = len(self.order)
                self.parent[id(tensor)] = split
                self.producer[id(tensor)] = node

    def common(self, tensor_ids):
        """The nearest common dominator of tensors, `ROOT` if none."""
        tensor_ids = list(tensor_ids)
        found = tensor_ids[0]
        for other in tensor_ids[1:]:
            while found != other:
                if self.order[found] > self.order[other]:
                    found = self.parent[found]
                else:
                    other = self.parent[other]
        return found


def _block_input(dominators, tensors, add_node):
    """The input of the block merged by `add_node` (see the module doc)."""
    split = dominators.common({id(t) for t in add_node.input_tensors})
    if split == dominators.ROOT:
        return None, False
    identity = split in {id(t) for t in add_node.input_tensors}
    while split in dominators.producer:
        node = dominators.producer[split]
        inputs = node.input_tensors
        if not isinstance(node.operation, PREACTIVATION_TYPES) or len(inputs) != 1:
            break
        if dominators.consumers[id(inputs[0])] != 1:
            break
        split = id(inputs[0])
    return tensors[split], identity


def find_blocks(model):
    """The residual blocks of `model`, in graph order (see the module doc).

    Args:
        model: a Keras model; a functional graph is searched for `Add`
            merges, any model for this package's layers.

    Returns:
        A list of `Block`s.
    """
    graph = graph_of(model)
    if graph is None:
        return [
            Block(_names_of(layer), None, None, layer, _is_identity(layer))
            for layer in layers_of_type(model, MEASURED_TYPES)
        ]
    nodes = nodes_in_order(graph)
    dominators = _Dominators(graph, nodes)
    tensors = {id(t): t for t in graph.inputs}
    tensors.update((id(t), t) for node in nodes for t in node.outputs)
    blocks = []
    for node in nodes:
        operation = node.operation
        if isinstance(operation, MEASURED_TYPES):
            blocks.append(Block(_names_of(operation), node.input_tensors[0],
                                node.outputs[0], operation, _is_identity(operation)))
        elif graph_of(operation) is not None:
            blocks.extend(find_blocks(operation))
        elif _is_add(operation) and len(node.input_tensors) >= 2:
            block_input, identity = _block_input(dominators, tensors, node)
            if block_input is not None:
                blocks.append(Block([operation.name], block_input, node.outputs[0],
                                    None, identity))
    return blocks


def _names_of(layer):
    """The names a package layer's measurements go under: its blocks' for a stack."""
    if isinstance(layer, IdentityResidualStack):
        return list(layer.block_names)
    return [layer.name]


def _is_identity(layer):
    return type(layer) in (IdentityResidualBlock, IdentityResidualStack)


def block_names(model):
    """The names of a model's residual blocks, in graph order.

    Args:
        model: a Keras model.

    Returns:
        A list of names, one per block (the keys of `gradient_norm_ratios`).

    Raises:
        ValueError: if the model has no block, or two blocks share a name
            (e.g. one nested model used twice).
    """
    names = [name for block in find_blocks(model) for name in block.names]
    if not names:
        raise ValueError(
            f"Model '{model.name}' has no residual block to measure: no Add "
            "merge in a functional graph and no IdentityResidualBlock, "
            "IdentityResidualStack, NormPreservingTransition or "
            "ParameterFreeTransition layer."
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"Model '{model.name}' has several measured layers named {repeated} "
            "(e.g. in two nested models): their measurements would share a key."
        )
    return names


def layers_of_type(model, types):
    """The layers of `model` that are instances of `types`, in graph order.

    Layers inside a nested model (a backbone used as a layer) are found too,
    at the nested model's place in the graph.

    Args:
        model: a functional or Sequential Keras model.
        types: a class or a tuple of classes.

    Returns:
        A list of layers.
    """
    found = []
    for layer in model.layers:
        if isinstance(layer, types):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(layers_of_type(layer, types))
    return found


def measured_layers(model):
    """This package's residual blocks, stacks and transitions in a model.

    Args:
        model: a functional or Sequential Keras model.

    Returns:
        A list of layers (`IdentityResidualBlock` and its subclasses,
        `IdentityResidualStack`, `NormPreservingTransition`,
        `ParameterFreeTransition`), in graph order.
    """
    return layers_of_type(model, MEASURED_TYPES)


def identity_block_names(model):
    """The names of a model's blocks with an identity skip.

    Args:
        model: a Keras model.

    Returns:
        A list of names in graph order, keys of `gradient_norm_ratios`:
        this package's identity blocks (unrolled or scanned) and the `Add`
        merges whose skip input is the block input (not transitions, not
        blocks with a convolution or pooling shortcut).
    """
    return [name for block in find_blocks(model) if block.identity for name in block.names]
