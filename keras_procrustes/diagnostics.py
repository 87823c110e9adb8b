"""Norm-preservation diagnostics: gradient norm ratios and conv spectra.

The paper's evidence (SPEC section 4) is the ratio `||dL/dx_in|| /
||dL/dx_out||` for every residual block and transition: identity blocks stay
near 1, dimension-changing blocks are the outliers, and projecting them
brings them back to 1.
"""

import keras
from keras import ops

from keras_procrustes import autodiff
from keras_procrustes import spectral
from keras_procrustes.layers import IdentityResidualBlock
from keras_procrustes.layers import IdentityResidualStack
from keras_procrustes.layers import NormPreservingTransition
from keras_procrustes.layers import ParameterFreeTransition

MEASURED_TYPES = (IdentityResidualBlock, IdentityResidualStack, NormPreservingTransition,
                  ParameterFreeTransition)


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
    """The residual blocks, stacks and transitions of a model, in graph order.

    Blocks inside a nested model (a backbone used as a layer) are found too,
    at the nested model's place in the graph.

    Args:
        model: a functional or Sequential Keras model.

    Returns:
        A list of layers (`IdentityResidualBlock` and its subclass
        `ProjectionResidualBlock`, `IdentityResidualStack`,
        `NormPreservingTransition`).
    """
    return layers_of_type(model, MEASURED_TYPES)


def _measured_names(layer):
    """The names a measured layer's ratios go under: its blocks' for a stack."""
    if isinstance(layer, IdentityResidualStack):
        return layer.block_names
    return [layer.name]


def identity_block_names(model):
    """The names of a model's identity residual blocks, unrolled or scanned.

    Args:
        model: a functional or Sequential Keras model.

    Returns:
        A list of names in graph order, the keys of `gradient_norm_ratios`
        that belong to blocks with an identity skip (not transitions, not
        projection-shortcut blocks).
    """
    return [
        name
        for layer in measured_layers(model)
        if type(layer) in (IdentityResidualBlock, IdentityResidualStack)
        for name in _measured_names(layer)
    ]


class _Probes:
    """Zero tensors added at the input and output of each measured layer.

    A stack's probes have a leading block axis: one pair per block.
    """

    def __init__(self):
        self.values = None  # name -> (input probe, output probe)
        self.shapes = {}


class _ProbedLayer(keras.layers.Layer):
    """Wraps a measured layer: `y = layer(x + p_in) + p_out`, sharing weights.

    With zero probes nothing changes, and the gradient of the loss with
    respect to `p_in` (`p_out`) is its gradient at the layer's input
    (output).
    """

    def __init__(self, layer, probes):
        super().__init__(name=f"{layer.name}_probed", dtype=layer.dtype_policy)
        self.inner = layer
        self.probes = probes

    def call(self, inputs, training=None):
        name = self.inner.name
        if self.probes.values is None:
            outputs = self.inner(inputs, training=training)
            shapes = (tuple(ops.shape(inputs)), tuple(ops.shape(outputs)))
            if isinstance(self.inner, IdentityResidualStack):
                shapes = tuple((self.inner.num_blocks, *shape) for shape in shapes)
            self.probes.shapes[name] = shapes
            return outputs
        probe_in, probe_out = self.probes.values[name]
        if isinstance(self.inner, IdentityResidualStack):
            return self.inner(inputs, training=training, probes=(probe_in, probe_out))
        return self.inner(inputs + probe_in, training=training) + probe_out

    def compute_output_shape(self, input_shape):
        return self.inner.compute_output_shape(input_shape)


def _probed_clone(model, probes):
    """A clone of `model` sharing its weights, measured layers wrapped."""

    def clone_layer(layer):
        if isinstance(layer, MEASURED_TYPES):
            return _ProbedLayer(layer, probes)
        return layer

    return keras.models.clone_model(model, clone_function=clone_layer, recursive=True)


def _loss_function(model, loss):
    if loss is None:
        loss = getattr(model, "loss", None) or "sparse_categorical_crossentropy"
    return keras.losses.get(loss)


def gradient_norm_ratios(model, x, y, loss=None, training=True):
    """`||dL/d input|| / ||dL/d output||` of each residual block and transition.

    Norms are over the whole batch. Batch norm runs in `training` mode (the
    paper measures during training); no variable is changed.

    Args:
        model: a functional or Sequential model whose blocks are this
            package's layers (`IdentityResidualBlock`,
            `ProjectionResidualBlock`, `IdentityResidualStack`,
            `NormPreservingTransition`), also inside a nested model (a
            backbone used as a layer).
        x: a batch of inputs.
        y: the batch's targets.
        loss: a Keras loss (name, function or object); default the model's
            compiled loss, else sparse categorical cross-entropy. Its mean
            over the batch is differentiated.
        training: batch-norm mode.

    Returns:
        A dict, layer name -> ratio (float), in graph order; a stack gives
        one entry per block, under the block's name (`stage1_block5`).

    Example:
    >>> ratios = gradient_norm_ratios(models.resnet164(), x[:32], y[:32])
    >>> ratios["transition1"]
    """
    layers = measured_layers(model)
    if not layers:
        raise ValueError(
            f"Model '{model.name}' has no IdentityResidualBlock, "
            "IdentityResidualStack or NormPreservingTransition layer to measure."
        )
    names = [layer.name for layer in layers]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"Model '{model.name}' has several measured layers named {repeated} "
            "(e.g. in two nested models): their ratios would share a key."
        )
    loss_fn = _loss_function(model, loss)
    probes = _Probes()
    clone = _probed_clone(model, probes)
    x = ops.convert_to_tensor(x)
    y = ops.convert_to_tensor(y)
    with keras.StatelessScope():
        clone(x, training=training)  # records concrete shapes
    zeros = []
    for name in names:
        shape_in, shape_out = probes.shapes[name]
        zeros += [ops.zeros(shape_in, x.dtype), ops.zeros(shape_out, x.dtype)]

    def batch_loss(flat_probes):
        probes.values = {
            name: (flat_probes[2 * i], flat_probes[2 * i + 1])
            for i, name in enumerate(names)
        }
        try:
            with keras.StatelessScope():
                predictions = clone(x, training=training)
                return ops.mean(loss_fn(y, predictions))
        finally:
            probes.values = None

    _, grads = autodiff.value_and_gradients(batch_loss, zeros)
    ratios = {}
    for i, layer in enumerate(layers):
        block_names = _measured_names(layer)
        grad_in = ops.reshape(grads[2 * i], (len(block_names), -1))
        grad_out = ops.reshape(grads[2 * i + 1], (len(block_names), -1))
        norm_in = ops.sqrt(ops.sum(ops.square(grad_in), axis=1))
        norm_out = ops.sqrt(ops.sum(ops.square(grad_out), axis=1))
        values = ops.convert_to_numpy(norm_in / norm_out)
        ratios.update((name, float(value)) for name, value in zip(block_names, values))
    return ratios


def operator_singular_values(layer):
    """Singular values of a conv layer's operator at its built input size.

    The operator is the layer's convolution with stride 1 and circular
    padding (Sedghi et al. 2019), the one the projection acts on.

    Args:
        layer: a built `keras.layers.Conv2D` (e.g. `NormPreservingTransition`)
            that has been called, so its input size is known.

    Returns:
        A 1-D tensor of `height * width * min(c_in, c_out)` values,
        descending.
    """
    if not isinstance(layer, keras.layers.Conv2D):
        raise ValueError(
            "operator_singular_values takes a Conv2D layer (such as "
            f"NormPreservingTransition). Received {type(layer).__name__} "
            f"'{layer.name}'."
        )
    if isinstance(layer, NormPreservingTransition) and layer.built:
        spatial_shape = layer.projection.spatial_shape
    else:
        try:
            spatial_shape = tuple(layer.input.shape[1:3])
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"Layer '{layer.name}' has not been called on an input, so "
                "its input size is unknown."
            ) from error
    if None in spatial_shape:
        raise ValueError(
            f"Layer '{layer.name}' was built for an input of unknown size "
            f"{spatial_shape}."
        )
    return spectral.conv_singular_values(layer.kernel, spatial_shape)
