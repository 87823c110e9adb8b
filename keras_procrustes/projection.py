"""Projection of a conv kernel onto the nearest norm-preserving operator."""

import math

from keras import ops

from keras_procrustes import polar
from keras_procrustes import spectral


def default_target(kernel_shape):
    """`sqrt(c_out / c_in)`: keeps the gradient's norm in expectation.

    Args:
        kernel_shape: `(kh, kw, c_in, c_out)`.

    Returns:
        The target singular value, a float.
    """
    return math.sqrt(kernel_shape[3] / kernel_shape[2])


def project_kernel(
    kernel,
    spatial_shape,
    target=None,
    engine="svd",
    iterations=10,
    conjugate_bug=False,
):
    """Projects a conv kernel so its operator's singular values are `target`.

    Each per-frequency transfer matrix `A[u, v]` of the stride-1 circular
    convolution is replaced by `target * polar(A[u, v])`; the result is
    inverse-transformed and cropped back to the kernel's support. A 1x1
    kernel has the same matrix at every frequency, so it takes one real
    polar factor and the projection is exact. For larger kernels the crop
    makes it approximate; repeated projections converge.

    Args:
        kernel: a `(kh, kw, c_in, c_out)` kernel.
        spatial_shape: `(height, width)` of the layer's input: the FFT size.
        target: the singular value to project onto; `None` means
            `sqrt(c_out / c_in)`.
        engine: `"svd"` (exact polar factor) or `"newton_schulz"`.
        iterations: Newton-Schulz iterations.
        conjugate_bug: if `True`, reproduce the authors' code, which returns
            the conjugate of the polar factor (a spatial flip; it collapses a
            3x3 kernel onto one tap). For reproduction only.

    Returns:
        The projected kernel, with the input's shape and dtype.
    """
    kernel_shape = spectral.check_kernel(kernel)
    fft_shape = spectral.check_fft_shape(spatial_shape, kernel_shape)
    if target is None:
        target = default_target(kernel_shape)
    kh, kw, c_in, c_out = kernel_shape
    dtype = kernel.dtype
    if kh == 1 and kw == 1:
        matrix = ops.reshape(ops.cast(kernel, "float32"), (c_in, c_out))
        factor, _ = polar.polar_factor(
            matrix, engine=engine, iterations=iterations
        )
        projected = ops.reshape(factor, kernel_shape)
    else:
        real, imag = spectral.kernel_spectrum(kernel, fft_shape)
        real, imag = polar.polar_factor(real, imag, engine, iterations)
        if conjugate_bug:
            imag = -imag
        projected = spectral.kernel_from_spectrum(
            real, imag, fft_shape, (kh, kw)
        )
    return ops.cast(projected * target, dtype)
