"""The spectrum of a 2-D convolution operator, in pure `keras.ops`.

A stride-1 convolution with circular padding over an `n1 x n2` input is
diagonalised by the 2-D DFT (Sedghi, Gupta & Long, ICLR 2019): its singular
values are the union, over the `n1 * n2` frequencies, of the singular values
of the `c_in x c_out` matrices `FFT2(kernel zero-padded to n1 x n2)[u, v]`.

Keras has no complex dtype, so a complex array travels as a `(real, imag)`
pair of real tensors. A real kernel's spectrum is conjugate-symmetric, so only
the `n1 x (n2 // 2 + 1)` half given by `rfft` is computed.
"""

from keras import ops


def check_kernel(kernel):
    """Checks that `kernel` is a conv kernel `(kh, kw, c_in, c_out)`.

    Args:
        kernel: a tensor, variable or array.

    Returns:
        The kernel's shape, as a tuple of 4 ints.
    """
    shape = tuple(kernel.shape)
    if len(shape) != 4:
        raise ValueError(
            "Expected a 2-D convolution kernel of rank 4, "
            f"(kernel_h, kernel_w, c_in, c_out). Received shape={shape}"
        )
    return tuple(int(d) for d in shape)


def check_fft_shape(fft_shape, kernel_shape):
    """Checks that `fft_shape` is an `(n1, n2)` that holds the kernel.

    Args:
        fft_shape: the input's spatial size, an int or a pair of ints.
        kernel_shape: the kernel's shape `(kh, kw, c_in, c_out)`.

    Returns:
        `fft_shape` as a tuple of two ints.
    """
    if isinstance(fft_shape, int):
        fft_shape = (fft_shape, fft_shape)
    fft_shape = tuple(fft_shape)
    if len(fft_shape) != 2 or not all(isinstance(n, int) for n in fft_shape):
        raise ValueError(
            "Expected `spatial_shape` to be two ints (height, width). "
            f"Received spatial_shape={fft_shape}"
        )
    if fft_shape[0] < kernel_shape[0] or fft_shape[1] < kernel_shape[1]:
        raise ValueError(
            f"The FFT size spatial_shape={fft_shape} is smaller than the "
            f"kernel's spatial size {kernel_shape[:2]}; it must be at least "
            "as large in each dimension."
        )
    return fft_shape


def _fft_last_axis(real, imag, inverse=False):
    """Complex FFT (or inverse FFT) along the last axis of a pair."""
    if not inverse:
        return ops.fft((real, imag))
    # ifft(x) = conj(fft(conj(x))) / n; keras.ops has no 1-D ifft.
    n = real.shape[-1]
    real, imag = ops.fft((real, -imag))
    return real / n, -imag / n


def kernel_spectrum(kernel, fft_shape):
    """The half spectrum of a conv kernel zero-padded to `fft_shape`.

    Args:
        kernel: a `(kh, kw, c_in, c_out)` kernel.
        fft_shape: `(n1, n2)`, the input's spatial size.

    Returns:
        A `(real, imag)` pair, each of shape `(n1, n2 // 2 + 1, c_in, c_out)`:
        the per-frequency transfer matrices.
    """
    kh, kw, _, _ = check_kernel(kernel)
    n1, n2 = check_fft_shape(fft_shape, kernel.shape)
    kernel = ops.cast(kernel, "float32")
    # (c_in, c_out, kw, kh) puts the axis rfft reads (width) last after pad.
    taps = ops.transpose(kernel, (2, 3, 0, 1))
    taps = ops.pad(taps, [[0, 0], [0, 0], [0, n1 - kh], [0, n2 - kw]])
    real, imag = ops.rfft(taps)
    real = ops.swapaxes(real, -1, -2)
    imag = ops.swapaxes(imag, -1, -2)
    real, imag = _fft_last_axis(real, imag)
    # (c_in, c_out, n2h, n1) -> (n1, n2h, c_in, c_out)
    return (
        ops.transpose(real, (3, 2, 0, 1)),
        ops.transpose(imag, (3, 2, 0, 1)),
    )


def kernel_from_spectrum(real, imag, fft_shape, kernel_size):
    """Inverts `kernel_spectrum` and crops back to the kernel's support.

    Args:
        real: real part, `(n1, n2 // 2 + 1, c_in, c_out)`.
        imag: imaginary part, same shape.
        fft_shape: `(n1, n2)`.
        kernel_size: `(kh, kw)`, the support to crop to.

    Returns:
        A real `(kh, kw, c_in, c_out)` float32 kernel.
    """
    n1, n2 = fft_shape
    kh, kw = kernel_size
    real = ops.transpose(real, (2, 3, 1, 0))
    imag = ops.transpose(imag, (2, 3, 1, 0))
    real, imag = _fft_last_axis(real, imag, inverse=True)
    real = ops.swapaxes(real, -1, -2)
    imag = ops.swapaxes(imag, -1, -2)
    taps = ops.irfft((real, imag), fft_length=n2)
    taps = taps[:, :, :kh, :kw]
    return ops.transpose(taps, (2, 3, 0, 1))


def _complex_singular_values(real, imag):
    """Singular values of a batch of complex matrices, descending.

    The real embedding `[[R, -I], [I, R]]` has every singular value of
    `R + iI` twice; every other one is kept.
    """
    embedded = ops.concatenate(
        [
            ops.concatenate([real, -imag], axis=-1),
            ops.concatenate([imag, real], axis=-1),
        ],
        axis=-2,
    )
    values = ops.svd(embedded, compute_uv=False)
    return values[..., ::2]


def conv_singular_values(kernel, spatial_shape):
    """Every singular value of a stride-1 convolution with circular padding.

    Args:
        kernel: a `(kh, kw, c_in, c_out)` kernel, in the layout of
            `keras.layers.Conv2D`.
        spatial_shape: `(height, width)` of the input, or one int for a
            square input. It must be at least the kernel's size.

    Returns:
        A 1-D float32 tensor of `height * width * min(c_in, c_out)` values,
        sorted in descending order.

    Example:
    >>> kernel = keras.random.normal((3, 3, 2, 4))
    >>> conv_singular_values(kernel, (8, 8)).shape
    (128,)
    """
    kernel_shape = check_kernel(kernel)
    n1, n2 = check_fft_shape(spatial_shape, kernel_shape)
    if kernel_shape[:2] == (1, 1):
        # Every frequency holds the same c_in x c_out matrix.
        matrix = ops.reshape(ops.cast(kernel, "float32"), kernel_shape[2:])
        values = ops.svd(matrix, compute_uv=False)
        return ops.reshape(ops.repeat(values[:, None], n1 * n2, axis=1), (-1,))
    real, imag = kernel_spectrum(kernel, (n1, n2))
    values = _complex_singular_values(real, imag)  # (n1, n2h, k)
    # Columns 1..ceil(n2/2)-1 stand for themselves and their conjugates.
    paired = values[:, 1 : (n2 + 1) // 2]
    single = [values[:, :1]]
    if n2 % 2 == 0:
        single.append(values[:, n2 // 2 : n2 // 2 + 1])
    every = ops.concatenate(
        [ops.reshape(v, (-1,)) for v in single + [paired, paired]], axis=0
    )
    return ops.flip(ops.sort(every))


__all__ = [
    "check_fft_shape",
    "check_kernel",
    "conv_singular_values",
    "kernel_from_spectrum",
    "kernel_spectrum",
]
