"""Operator norms of linear layers, exactly as Keras computes them.

`operator_norm` is the largest singular value of the linear map of a Dense,
convolution or depthwise convolution layer (bias and activation left out)
at the layer's input size, with its strides, padding ("same" and "valid"
pad with zeros), dilation and groups, by power iteration on `A^T A` with a
vector-Jacobian product for `A^T`. `operator_singular_values` is the full
spectrum of the stride-1 circular convolution that the projection acts on,
exact by the FFT (Sedghi, Gupta & Long, "The singular values of
convolutional layers", ICLR 2019).
"""

import keras
import numpy as np
from keras import ops

from keras_procrustes.ops import autodiff
from keras_procrustes import checks
from keras_procrustes.ops import spectral
from keras_procrustes.layers import NormPreservingTransition

LINEAR_TYPES = (
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
)


def linear_map(layer):
    """The layer's linear part, a function of a batch of inputs.

    Args:
        layer: a built layer of `LINEAR_TYPES`.

    Returns:
        A function `x -> A x` (the layer without bias and activation).
    """
    if isinstance(layer, keras.layers.Dense):
        return lambda x: ops.matmul(x, ops.convert_to_tensor(layer.kernel))
    if isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
        return lambda x: ops.depthwise_conv(
            x, ops.convert_to_tensor(layer.kernel), strides=layer.strides,
            padding=layer.padding, dilation_rate=layer.dilation_rate,
            data_format=layer.data_format)
    padding = layer.padding

    def convolve(x):
        if padding == "causal":  # Conv1D: pad on the left, then "valid"
            x = ops.pad(x, layer._compute_causal_padding())
        return ops.conv(
            x, ops.convert_to_tensor(layer.kernel), strides=list(layer.strides),
            padding="valid" if padding == "causal" else padding,
            dilation_rate=layer.dilation_rate, data_format=layer.data_format)

    return convolve


def built_input_shape(layer, input_shape=None):
    """The input shape (without the batch axis) the layer's operator acts on.

    Args:
        layer: a built layer.
        input_shape: overrides the layer's built input shape.

    Returns:
        A tuple of ints.

    Raises:
        ValueError: if the size is unknown.
    """
    if input_shape is None:
        built = (layer.get_build_config() or {}).get("input_shape")
        input_shape = None if built is None else tuple(built)[1:]
    if input_shape is None or None in input_shape:
        raise ValueError(
            f"The input size of layer '{layer.name}' is not known "
            f"(built for {input_shape}). Build it on a fixed-size input or "
            "pass `input_shape` (without the batch axis)."
        )
    return tuple(int(n) for n in input_shape)


def _unit(vector):
    return vector / ops.sqrt(ops.sum(ops.square(vector)))


def operator_norm(layer, input_shape=None, tol=1e-6, max_iterations=500, seed=0):
    """The largest singular value of a layer's linear map, by power iteration.

    The map is the layer's computation without bias and activation, on one
    example of the layer's input size: a `Dense` layer's kernel, or a
    convolution with the layer's strides, padding (zeros for `"same"` and
    `"valid"`, left zeros for `"causal"`), dilation and groups. Each
    iteration applies `A` and then `A^T`, the vector-Jacobian product from
    the backend's autodiff (compiled on TensorFlow and JAX), and stops once
    the estimate `||A v||` changes by less than `tol` (relative) or after
    `max_iterations`.

    Args:
        layer: a built `Dense`, `Conv1D`, `Conv2D`, `Conv3D`,
            `DepthwiseConv1D` or `DepthwiseConv2D` (or a subclass, such as
            `NormPreservingTransition`).
        input_shape: the input's shape without the batch axis; default the
            shape the layer was built for.
        tol: relative change of the estimate at which to stop.
        max_iterations: the most iterations.
        seed: seed of the random start.

    Returns:
        The largest singular value, a float (a lower bound that converges
        to it from below).

    Raises:
        ValueError: for another layer type, an unknown input size, a `tol`
            that is not a finite number >= 0, or a `max_iterations` that is
            not a positive int.

    Example:
    >>> conv = keras.layers.Conv2D(8, 3, strides=2, padding="same")
    >>> conv.build((None, 16, 16, 4))
    >>> operator_norm(conv)
    """
    if not isinstance(layer, LINEAR_TYPES):
        raise ValueError(
            "`layer` must be a Dense, Conv1D, Conv2D, Conv3D, DepthwiseConv1D "
            f"or DepthwiseConv2D layer. Received layer={type(layer).__name__} "
            f"'{layer.name}'"
        )
    if not checks.is_finite_number(tol) or tol < 0:
        raise ValueError(f"`tol` must be a finite number >= 0. Received tol={tol!r}")
    checks.check_positive_int("max_iterations", max_iterations)
    shape = (1, *built_input_shape(layer, input_shape))
    pair = autodiff.apply_and_transpose(linear_map(layer))
    rng = np.random.default_rng(seed)
    vector = _unit(ops.convert_to_tensor(rng.normal(size=shape).astype("float32")))
    estimate = 0.0
    for _ in range(max_iterations):
        image, back = pair(vector)
        previous, estimate = estimate, float(ops.sqrt(ops.sum(ops.square(image))))
        if estimate == 0.0 or abs(estimate - previous) <= tol * estimate:
            break
        vector = _unit(back)
    return estimate


def operator_singular_values(layer):
    """Singular values of a conv layer's operator at its built input size.

    The operator is the layer's convolution with stride 1 and circular
    padding (Sedghi et al. 2019), the one the projection acts on; it is the
    layer's own map when the layer has stride 1 and circular padding. For
    the map with the layer's strides and zero padding, see `operator_norm`.

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
