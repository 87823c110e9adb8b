"""Projection of a kernel onto the nearest norm-preserving operator."""

import math

from keras import ops

from keras_procrustes import checks
from keras_procrustes import polar
from keras_procrustes import spectral


def default_target(kernel_shape):
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

    Args:
        kernel_shape: the kernel's shape, `(..., c_in, c_out)`.

    Returns:
        The target singular value, a float.
    """
    return math.sqrt(max(kernel_shape[-1] / kernel_shape[-2], 1.0))


def project_kernel(
    kernel,
    spatial_shape=None,
    target=None,
    engine="svd",
    iterations=10,
    conjugate_bug=False,
    alternations=1,
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
    (`spectral.as_conv2d`).

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

    Returns:
        The projected kernel, with the input's shape and dtype.
    """
    checks.check_positive_int("alternations", alternations)
    kernel_2d, fft_shape = spectral.as_conv2d(kernel, spatial_shape)
    shape = tuple(kernel.shape)
    if target is None:
        target = default_target(shape)
    kh, kw, c_in, c_out = kernel_2d.shape
    if kh == 1 and kw == 1:
        matrix = ops.reshape(ops.cast(kernel_2d, "float32"), (c_in, c_out))
        projected, _ = polar.polar_factor(
            matrix, engine=engine, iterations=iterations
        )
    else:
        projected = kernel_2d
        for _ in range(alternations):  # polar factors ignore the scale
            projected = _project_and_crop(
                projected, fft_shape, engine, iterations, conjugate_bug
            )
    return ops.cast(ops.reshape(projected * target, shape), kernel.dtype)


def _project_and_crop(kernel_2d, fft_shape, engine, iterations, conjugate_bug):
    """One round: every transfer matrix to its polar factor, then the crop."""
    kh, kw = kernel_2d.shape[:2]
    real, imag = spectral.kernel_spectrum(kernel_2d, fft_shape)
    real, imag = polar.polar_factor(real, imag, engine, iterations)
    if conjugate_bug:
        imag = -imag
    return spectral.kernel_from_spectrum(real, imag, fft_shape, (kh, kw))
