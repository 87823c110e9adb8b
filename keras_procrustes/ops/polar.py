"""Polar factors of batches of (complex) matrices, in pure `keras.ops`.

The polar factor `P = U V^H` of `M = U S V^H` is the nearest matrix with
orthonormal rows or columns (the orthogonal Procrustes solution). For a
rank-deficient `M` the factor keeps the zero singular values at zero: it is
the partial isometry of `M`'s polar decomposition, which is unique.

A complex batch is a `(real, imag)` pair; `imag=None` means a real batch.
Matrices are the last two axes.
"""

from keras import ops

from keras_procrustes.checks import is_positive_int

ENGINES = ("svd", "newton_schulz")
_FLOAT32_EPS = 1.1920929e-07


def _embed(real, imag):
    """The real embedding `[[R, -I], [I, R]]` of `R + iI`."""
    top = ops.concatenate([real, -imag], axis=-1)
    bottom = ops.concatenate([imag, real], axis=-1)
    return ops.concatenate([top, bottom], axis=-2)


def _unembed(embedded, rows, cols):
    """The complex matrix nearest to a `2 rows x 2 cols` real embedding."""
    top_left = embedded[..., :rows, :cols]
    top_right = embedded[..., :rows, cols:]
    bottom_left = embedded[..., rows:, :cols]
    bottom_right = embedded[..., rows:, cols:]
    return (top_left + bottom_right) / 2, (bottom_left - top_right) / 2


def _real_polar_svd(matrix):
    """Polar factor of a batch of real matrices by SVD."""
    u, s, vh = ops.svd(matrix, full_matrices=False)
    rows, cols = matrix.shape[-2], matrix.shape[-1]
    tolerance = (
        ops.max(s, axis=-1, keepdims=True) * max(rows, cols) * _FLOAT32_EPS
    )
    keep = ops.cast(s > tolerance, matrix.dtype)
    return ops.matmul(u * ops.expand_dims(keep, -2), vh)


def polar_svd(real, imag=None):
    """Polar factor by an exact SVD.

    A matrix whose largest entry lies outside [2**-60, 2**60] is first
    divided by that entry (`_in_svd_range`): the polar factor does not
    depend on the scale, and float32 SVDs return zeros for matrices whose
    entries are near float32's largest value (a 8x8 one scaled by 1e37).
    Other matrices go to the SVD as they are: rescaling every one changed
    their bits enough for torch's CPU SVD (LAPACK gesdd) to fail to
    converge on a projected kernel that it takes unscaled.

    Args:
        real: real part, `(..., rows, cols)`.
        imag: imaginary part of the same shape, or `None` for real input.

    Returns:
        A `(real, imag)` pair (`imag` is `None` for real input) holding the
        polar factor, whose nonzero singular values are all 1.
    """
    real, imag = _in_svd_range(real, imag)
    if imag is None:
        return _real_polar_svd(real), None
    rows, cols = real.shape[-2], real.shape[-1]
    return _unembed(_real_polar_svd(_embed(real, imag)), rows, cols)


def _conj_transpose(real, imag):
    real = ops.swapaxes(real, -1, -2)
    return real, None if imag is None else -ops.swapaxes(imag, -1, -2)


def _matmul(a, b):
    """Product of two complex (or real, `imag=None`) matrix batches."""
    (a_re, a_im), (b_re, b_im) = a, b
    real = ops.matmul(a_re, b_re)
    if a_im is None:
        return real, None
    return (
        real - ops.matmul(a_im, b_im),
        ops.matmul(a_re, b_im) + ops.matmul(a_im, b_re),
    )


def _nonzero(values):
    """`values` with every zero replaced by 1 (a safe divisor)."""
    return ops.where(values > 0, values, ops.ones_like(values))


def _peak(matrices):
    """The largest entry magnitude of each matrix, `(..., 1, 1)`."""
    return ops.max(ops.abs(matrices), axis=(-2, -1), keepdims=True)


def _sum_of_squares(matrices):
    """The sum of squared entries of each matrix, `(..., 1, 1)`."""
    return ops.sum(ops.square(matrices), axis=(-2, -1), keepdims=True)


def _in_svd_range(real, imag):
    """Each matrix whose largest entry is outside [2**-60, 2**60], divided by that entry."""
    parts = [real] if imag is None else [real, imag]
    peak = ops.max(ops.stack([_peak(part) for part in parts]), axis=0)
    outside = ops.logical_or(peak > 2.0**60, ops.logical_and(peak > 0, peak < 2.0**-60))
    scale = ops.where(outside, peak, ops.ones_like(peak))
    parts = [part / scale for part in parts]
    return parts[0], None if imag is None else parts[1]


def _unit_frobenius(real, imag):
    """`M / ||M||_F` for each matrix of a batch; a zero matrix stays zero.

    Squaring float32 entries overflows above about 1.8e19 and underflows
    below about 1e-19, so each matrix is first divided by its largest
    entry magnitude: its squares then lie in [0, 1] and its norm in
    [1, sqrt(2 * rows * cols)], whatever the scale of `M`.
    """
    parts = [real] if imag is None else [real, imag]
    peak = _nonzero(ops.max(ops.stack([_peak(part) for part in parts]), axis=0))
    parts = [part / peak for part in parts]
    norm = _nonzero(ops.sqrt(sum(_sum_of_squares(part) for part in parts)))
    parts = [part / norm for part in parts]
    return parts[0], None if imag is None else parts[1]


def polar_newton_schulz(real, imag=None, iterations=10):
    """Polar factor by the Newton-Schulz iteration `X <- (3X - X X^H X) / 2`.

    The start is `M / ||M||_F`, so every singular value starts in (0, 1] and
    grows towards 1; the Gram matrix is formed on the smaller side. Zero
    singular values stay zero, so a zero matrix maps to zero. The start is
    formed without overflow or underflow for any finite float32 `M` (the
    polar factor does not depend on `M`'s scale).

    Args:
        real: real part, `(..., rows, cols)`.
        imag: imaginary part of the same shape, or `None` for real input.
        iterations: the number of iterations, a positive int.

    Returns:
        A `(real, imag)` pair (`imag` is `None` for real input): the
        approximate polar factor.
    """
    if not is_positive_int(iterations):
        raise ValueError(
            "`iterations` must be a positive int. "
            f"Received iterations={iterations}"
        )
    x = _unit_frobenius(real, imag)
    wide = real.shape[-2] <= real.shape[-1]
    for _ in range(iterations):
        x_h = _conj_transpose(*x)
        if wide:
            cubic = _matmul(_matmul(x, x_h), x)
        else:
            cubic = _matmul(x, _matmul(x_h, x))
        x = tuple(
            None if p is None else 1.5 * p - 0.5 * c for p, c in zip(x, cubic)
        )
    return x


def polar_factor(real, imag=None, engine="svd", iterations=10):
    """Polar factor with the named engine.

    Args:
        real: real part, `(..., rows, cols)`.
        imag: imaginary part, or `None` for real input.
        engine: `"svd"` (exact) or `"newton_schulz"`.
        iterations: Newton-Schulz iterations; unused by `"svd"`.

    Returns:
        A `(real, imag)` pair, as the engine returns it.
    """
    if engine == "svd":
        return polar_svd(real, imag)
    if engine == "newton_schulz":
        return polar_newton_schulz(real, imag, iterations)
    raise ValueError(f"`engine` must be one of {ENGINES}. Received engine={engine!r}")
