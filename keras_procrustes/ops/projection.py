"""Projection of a kernel onto the nearest norm-preserving operator."""

import math
import re

import numpy as np
from keras import ops

from keras_procrustes import checks
from keras_procrustes.ops import polar
from keras_procrustes.ops import spectral

# How a kernel `(..., a, b)` acts: "convolution" maps a channels to b
# (Dense, Conv1D, Conv2D); "depthwise" maps each of a channels to its own b
# (DepthwiseConv1D/2D, SeparableConv's depthwise kernel); "transposed" maps
# b channels to a (Conv1DTranspose, Conv2DTranspose).
OPERATORS = ("convolution", "depthwise", "transposed")

# Kernel variables whose path tells another operator than their shape:
# a separable convolution's `depthwise_kernel` by its name, the `kernel` of
# DepthwiseConvND and ConvNDTranspose by their layers' default names.
_TOLD_BY_PATH = (
    (re.compile(r".*/depthwise_kernel"), "depthwise"),
    (re.compile(r"(.*/)?depthwise_conv[12]d(_\d+)?/kernel"), "depthwise"),
    (re.compile(r"(.*/)?conv[123]d_transpose(_\d+)?/kernel"), "transposed"),
)


def check_operator(operator):
    """Raises ValueError unless `operator` is one of `OPERATORS`.

    Args:
        operator: how the kernel acts, a string.

    Raises:
        ValueError: naming the value received.
    """
    if operator not in OPERATORS:
        raise ValueError(
            f"`operator` must be one of {OPERATORS}. Received operator={operator!r}"
        )


def _operator_of(variable):
    """The operator a kernel variable's name tells, or None.

    Args:
        variable: a Keras variable, or a tensor or array (no name: None).

    Returns:
        `"depthwise"` for a SeparableConv1D/2D `depthwise_kernel` or the
        kernel of a layer under a DepthwiseConv1D/2D default name,
        `"transposed"` for the kernel of a layer under a ConvNDTranspose
        default name, else None.
    """
    path = getattr(variable, "path", None)
    if not isinstance(path, str):
        return None
    for pattern, operator in _TOLD_BY_PATH:
        if pattern.fullmatch(path):
            return operator
    return None


def check_operator_of(variable, operator):
    """Raises a ValueError if `variable`'s name tells another operator.

    Args:
        variable: a kernel variable, tensor or array.
        operator: the operator it is to be projected as.

    Raises:
        ValueError: naming the variable and the operator it needs.
    """
    told = _operator_of(variable)
    if told is not None and told != operator:
        raise ValueError(
            f"The kernel {variable.path!r} belongs to a {told} layer; "
            f"project it with ProcrustesProjection(..., operator={told!r}). "
            f"Received operator={operator!r}"
        )


def _channels(kernel_shape, operator):
    """`(c_in, c_out)` of one block of the operator a kernel acts as."""
    a, b = kernel_shape[-2], kernel_shape[-1]
    if operator == "depthwise":
        return 1, b
    if operator == "transposed":
        return b, a
    return a, b


def default_target(kernel_shape, operator="convolution"):
    """`sqrt(max(c_out / c_in, 1))`: the singular value that keeps the
    gradient's norm.

    Back-propagation multiplies the output gradient by each frequency's
    `c_in x c_out` transfer matrix. With every singular value `t`, an
    expanding layer (`c_out > c_in`, rank `c_in`) keeps `c_in / c_out` of a
    random gradient's squared norm, so `t = sqrt(c_out / c_in)` keeps its
    norm in expectation (the paper's target). A contracting layer
    (`c_in >= c_out`, rank `c_out`) maps the gradient isometrically up to
    `t`, so `t = 1` keeps every gradient's norm exactly;
    `sqrt(c_out / c_in)` there would shrink every gradient by that factor.

    A depthwise kernel `(..., channels, multiplier)` maps each channel to
    its own `multiplier` outputs (`c_in = 1`, `c_out = multiplier`); a
    transposed kernel `(..., c_out, c_in)` holds its channels the other way
    round.

    Args:
        kernel_shape: the kernel's shape, `(..., c_in, c_out)`.
        operator: how the kernel acts, one of `OPERATORS`.

    Returns:
        The target singular value, a float.
    """
    c_in, c_out = _channels(kernel_shape, operator)
    return math.sqrt(max(c_out / c_in, 1.0))


def project_kernel(
    kernel,
    spatial_shape=None,
    target=None,
    engine="svd",
    iterations=10,
    conjugate_bug=False,
    alternations=1,
    operator="convolution",
):
    """Projects a kernel so its operator's singular values are `target`.

    Each per-frequency transfer matrix `A[u, v]` of the stride-1 circular
    convolution is replaced by `target * polar(A[u, v])`; the result is
    inverse-transformed and cropped back to the kernel's support. A 1x1
    kernel (and a Dense kernel) has the same matrix at every frequency, so
    it takes one real polar factor and the projection is exact. For larger
    kernels the crop makes it approximate: `alternations` rounds of
    project-then-crop (alternating projections between the norm-preserving
    operators and the kernels of the layer's support) bring the singular
    values closer to `target`.
    Dense and Conv1D kernels are projected in their Conv2D view
    (`spectral.as_conv2d`). A depthwise kernel's transfer matrix is block
    diagonal, one `1 x multiplier` block per channel: each block is
    projected on its own. A transposed convolution (stride 1) is the
    adjoint of the convolution with the same kernel, so it takes the same
    projection (only its default target differs).

    Args:
        kernel: a Conv2D `(kh, kw, c_in, c_out)`, Conv1D `(k, c_in, c_out)`
            or Dense `(c_in, c_out)` kernel.
        spatial_shape: the layer's input size, the FFT size:
            `(height, width)`, `(length,)`, or `None` for a Dense kernel
            (see `spectral.check_fft_shape`).
        target: the singular value to project onto; `None` means
            `default_target(kernel.shape)`.
        engine: `"svd"` (exact polar factor) or `"newton_schulz"`.
        iterations: Newton-Schulz iterations.
        conjugate_bug: if `True`, reproduce the authors' code, which returns
            the conjugate of the polar factor (a spatial flip; it collapses a
            3x3 kernel onto one tap). For reproduction only.
        alternations: rounds of project-then-crop, a positive int; 1 is the
            paper's projection. A 1x1 (or Dense) kernel takes one round,
            which is exact.
        operator: how the kernel acts, one of `OPERATORS`: `"convolution"`
            (default; Dense, Conv1D, Conv2D), `"depthwise"` (a
            `DepthwiseConv1D`/`DepthwiseConv2D` kernel `(..., channels,
            multiplier)`) or `"transposed"` (a `Conv1DTranspose` or
            `Conv2DTranspose` kernel `(..., c_out, c_in)`).

    Returns:
        The projected kernel, with the input's shape and dtype.
    """
    checks.check_positive_int("alternations", alternations)
    check_operator(operator)
    kernel_2d, fft_shape = spectral.as_conv2d(kernel, spatial_shape)
    shape = tuple(kernel.shape)
    if target is None:
        target = default_target(shape, operator)
    polar_of = _block_polar(operator == "depthwise", engine, iterations)
    kh, kw, c_in, c_out = kernel_2d.shape
    if kh == 1 and kw == 1:
        matrix = ops.reshape(ops.cast(kernel_2d, "float32"), (c_in, c_out))
        projected, _ = polar_of(matrix, None)
    else:
        projected = kernel_2d
        for _ in range(alternations):  # polar factors ignore the scale
            projected = _project_and_crop(
                projected, fft_shape, polar_of, conjugate_bug
            )
    return ops.cast(ops.reshape(projected * target, shape), kernel.dtype)


def _block_polar(depthwise, engine, iterations):
    """The polar factor of each transfer matrix, or of each of its rows.

    A depthwise transfer matrix `(channels, multiplier)` is block diagonal
    in the operator: row `c` maps channel `c` to its own outputs, so each
    row takes its own polar factor (the row divided by its norm).
    """

    def polar_of(real, imag):
        if not depthwise:
            return polar.polar_factor(real, imag, engine, iterations)
        rows = [None if p is None else ops.expand_dims(p, -2) for p in (real, imag)]
        rows = polar.polar_factor(*rows, engine, iterations)
        return tuple(None if p is None else ops.squeeze(p, -2) for p in rows)

    return polar_of


def _project_and_crop(kernel_2d, fft_shape, polar_of, conjugate_bug):
    """One round: every transfer matrix to its polar factor, then the crop."""
    kh, kw = kernel_2d.shape[:2]
    real, imag = spectral.kernel_spectrum(kernel_2d, fft_shape)
    real, imag = polar_of(real, imag)
    if conjugate_bug:
        imag = -imag
    return spectral.kernel_from_spectrum(real, imag, fft_shape, (kh, kw))


def is_traced(tensor):
    """Whether `tensor` is symbolic: inside `tf.function` or a JAX trace.

    A traced tensor has no value to inspect, so eager checks skip it.
    """
    from keras.src.utils import backend_utils
    from keras.src.utils import jax_utils

    return backend_utils.in_tf_graph() or jax_utils.is_in_jax_tracing_scope(
        tensor
    )


def check_finite(kernel):
    """Raises a ValueError if a concrete `kernel` holds NaN or inf.

    A traced kernel (inside `tf.function` or `jax.jit`) passes unchecked.

    Args:
        kernel: a tensor.
    """
    if is_traced(kernel):
        return
    values = ops.convert_to_numpy(kernel)
    nan = int(np.isnan(values).sum())
    inf = int(np.isinf(values).sum())
    if nan or inf:
        raise ValueError(
            f"The kernel of shape {tuple(values.shape)} holds {nan} NaN and "
            f"{inf} inf of its {values.size} values; a kernel that is not "
            "finite has no projection. The training that produced it has "
            "diverged (try a lower learning rate)."
        )
