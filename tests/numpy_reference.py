"""Independent numpy references for the spectral code (no keras_procrustes)."""

import numpy as np


def circular_conv_matrix(kernel, n1, n2):
    """The dense matrix of a stride-1 cross-correlation, circular padding.

    Args:
        kernel: numpy `(kh, kw, c_in, c_out)` kernel, Keras layout.
        n1: input height.
        n2: input width.

    Returns:
        A `(n1 * n2 * c_out, n1 * n2 * c_in)` matrix `T` with
        `y.ravel() = T @ x.ravel()` for `x` of shape `(n1, n2, c_in)`.
    """
    kh, kw, c_in, c_out = kernel.shape
    matrix = np.zeros((n1, n2, c_out, n1, n2, c_in))
    for i in range(n1):
        for j in range(n2):
            for a in range(kh):
                for b in range(kw):
                    matrix[i, j, :, (i + a) % n1, (j + b) % n2, :] += kernel[
                        a, b
                    ].T
    return matrix.reshape(n1 * n2 * c_out, n1 * n2 * c_in)


def operator_singular_values(kernel, n1, n2):
    """Singular values of `circular_conv_matrix`, descending, nonzero count
    `n1 * n2 * min(c_in, c_out)`."""
    kh, kw, c_in, c_out = kernel.shape
    values = np.linalg.svd(
        circular_conv_matrix(kernel, n1, n2), compute_uv=False
    )
    return values[: n1 * n2 * min(c_in, c_out)]


def circular_conv1d_matrix(kernel, n):
    """The dense matrix of a stride-1 1-D cross-correlation, circular padding.

    Args:
        kernel: numpy `(k, c_in, c_out)` kernel, Keras `Conv1D` layout.
        n: input length.

    Returns:
        A `(n * c_out, n * c_in)` matrix `T` with `y.ravel() = T @ x.ravel()`
        for `x` of shape `(n, c_in)`.
    """
    k, c_in, c_out = kernel.shape
    matrix = np.zeros((n, c_out, n, c_in))
    for i in range(n):
        for a in range(k):
            matrix[i, :, (i + a) % n, :] += kernel[a].T
    return matrix.reshape(n * c_out, n * c_in)


def project_conv1d(kernel, n, target):
    """One projection of a Conv1D kernel, by numpy's FFT and SVD.

    Args:
        kernel: numpy `(k, c_in, c_out)` kernel.
        n: the FFT size (input length).
        target: the singular value to project onto.

    Returns:
        The `(k, c_in, c_out)` kernel whose every transfer matrix was
        replaced by `target` times its polar factor, cropped to `k` taps.
    """
    k = kernel.shape[0]
    padded = np.zeros((n,) + kernel.shape[1:])
    padded[:k] = kernel
    u, _, vh = np.linalg.svd(np.fft.fft(padded, axis=0), full_matrices=False)
    return target * np.fft.ifft(u @ vh, axis=0).real[:k]


def project_conv2d(kernel, n1, n2, target):
    """One projection of a Conv2D kernel, by numpy's FFT and SVD.

    Args:
        kernel: numpy `(kh, kw, c_in, c_out)` kernel.
        n1: the FFT height (input height).
        n2: the FFT width (input width).
        target: the singular value to project onto.

    Returns:
        The kernel whose every transfer matrix was replaced by `target`
        times its polar factor, cropped to `kh x kw` taps.
    """
    kh, kw = kernel.shape[:2]
    padded = np.zeros((n1, n2) + kernel.shape[2:])
    padded[:kh, :kw] = kernel
    spectrum = np.fft.fft2(padded, axes=(0, 1))
    u, _, vh = np.linalg.svd(spectrum, full_matrices=False)
    return target * np.fft.ifft2(u @ vh, axes=(0, 1)).real[:kh, :kw]
