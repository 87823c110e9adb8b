"""The spectrum of a convolution operator, in pure `keras.ops`.

A stride-1 convolution with circular padding over an `n1 x n2` input is
diagonalised by the 2-D DFT (Sedghi, Gupta & Long, ICLR 2019): its singular
values are the union, over the `n1 * n2` frequencies, of the singular values
of the `c_in x c_out` matrices `FFT2(kernel zero-padded to n1 x n2)[u, v]`.

Keras has no complex dtype, so a complex array travels as a `(real, imag)`
pair of real tensors. A real kernel's spectrum is conjugate-symmetric, so only
the `n1 x (n2 // 2 + 1)` half given by `rfft` is computed.

Dense and Conv1D kernels are taken as Conv2D kernels (`as_conv2d`): a Dense
layer is a 1x1 convolution over one position, a Conv1D layer a `1 x k`
convolution over a `1 x n` input.
"""


from keras import ops

from keras_procrustes.checks import is_int

_KINDS = {2: "Dense", 3: "Conv1D", 4: "Conv2D"}
_SPATIAL_NAMES = {2: "None or ()", 3: "(length,)", 4: "(height, width)"}


def check_kernel(kernel):
    """Checks that `kernel` is a Dense, Conv1D or Conv2D kernel.

    Args:
        kernel: a tensor, variable or array of shape `(c_in, c_out)`
            (`keras.layers.Dense`), `(k, c_in, c_out)` (`Conv1D`) or
            `(kh, kw, c_in, c_out)` (`Conv2D`).

    Returns:
        The kernel's shape, as a tuple of ints.
    """
    shape = tuple(kernel.shape)
    if len(shape) not in _KINDS:
        raise ValueError(
            "Expected a kernel of rank 2 (Dense: c_in, c_out), 3 (Conv1D: "
            "k, c_in, c_out) or 4 (Conv2D: kh, kw, c_in, c_out). "
            f"Received shape={shape}"
        )
    return tuple(int(d) for d in shape)


def _spatial_error(kernel_shape, spatial_shape, reason):
    rank = len(kernel_shape)
    return ValueError(
        f"A {_KINDS[rank]} kernel of shape {kernel_shape} needs "
        f"`spatial_shape` {_SPATIAL_NAMES[rank]}, {reason}. "
        f"Received spatial_shape={spatial_shape}"
    )


def check_fft_shape(fft_shape, kernel_shape):
    """The 2-D FFT size `(n1, n2)` of a kernel's operator.

    A Dense kernel acts on one position: its FFT size is `(1, 1)`. A Conv1D
    kernel over a length-`n` input is a `1 x k` Conv2D kernel over a `1 x n`
    input: its FFT size is `(1, n)`.

    Args:
        fft_shape: the input's spatial size: `(height, width)` (Conv2D),
            `(length,)` (Conv1D), `()` (Dense), or one int for every
            spatial axis. `None` means the kernel's own spatial size, which
            is allowed only where that is all ones (Dense, 1x1 or k=1
            kernels, whose projection does not depend on the input's size).
        kernel_shape: the kernel's shape, as `check_kernel` returns it.

    Returns:
        The FFT size, a tuple of two ints.
    """
    kernel_size = tuple(kernel_shape[:-2])
    if fft_shape is None:
        if any(k != 1 for k in kernel_size):
            raise _spatial_error(
                kernel_shape, fft_shape, "the size of the layer's input"
            )
        fft_shape = kernel_size
    if is_int(fft_shape):
        if not kernel_size:
            raise _spatial_error(
                kernel_shape, fft_shape, "as it has no spatial axis"
            )
        fft_shape = (fft_shape,) * len(kernel_size)
    if not isinstance(fft_shape, (tuple, list)) or not all(
        is_int(n) for n in fft_shape
    ):
        raise _spatial_error(kernel_shape, fft_shape, "a tuple of ints")
    if len(fft_shape) != len(kernel_size):
        raise _spatial_error(
            kernel_shape, tuple(fft_shape), "one int per spatial axis"
        )
    fft_shape = tuple(int(n) for n in fft_shape)
    if any(n < k for n, k in zip(fft_shape, kernel_size)):
        raise ValueError(
            f"The FFT size spatial_shape={fft_shape} is smaller than the "
            f"kernel's spatial size {kernel_size}; it must be at least "
            "as large in each dimension."
        )
    return (1,) * (2 - len(fft_shape)) + fft_shape


def as_conv2d(kernel, spatial_shape=None):
    """A Dense, Conv1D or Conv2D kernel as a Conv2D kernel, with its FFT size.

    A Dense kernel `(c_in, c_out)` is a 1x1 convolution; a Conv1D kernel
    `(k, c_in, c_out)` over a length-`n` input is a `1 x k` convolution
    over a `1 x n` input. Both have the same operator (stride 1, circular
    padding) as the Conv2D view, so its spectrum and projection serve them.

    Args:
        kernel: a kernel of rank 2, 3 or 4 (see `check_kernel`).
        spatial_shape: the input's spatial size (see `check_fft_shape`).

    Returns:
        A pair `(kernel_2d, fft_shape)`: the `(kh, kw, c_in, c_out)` view of
        the kernel and the `(n1, n2)` FFT size.

    Example:
    >>> kernel_2d, fft_shape = as_conv2d(keras.ops.ones((3, 4, 8)), (16,))
    >>> tuple(kernel_2d.shape), fft_shape
    ((1, 3, 4, 8), (1, 16))
    """
    kernel_shape = check_kernel(kernel)
    fft_shape = check_fft_shape(spatial_shape, kernel_shape)
    view = (1,) * (4 - len(kernel_shape)) + kernel_shape
    return ops.reshape(kernel, view), fft_shape


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
        kernel: a Conv2D `(kh, kw, c_in, c_out)` kernel, or a Conv1D or
            Dense kernel, taken in its Conv2D view (`as_conv2d`).
        fft_shape: the input's spatial size, as `as_conv2d` takes it.

    Returns:
        A `(real, imag)` pair, each of shape `(n1, n2 // 2 + 1, c_in, c_out)`
        where `(n1, n2)` is the 2-D FFT size: the per-frequency transfer
        matrices.
    """
    kernel, (n1, n2) = as_conv2d(kernel, fft_shape)
    kh, kw = kernel.shape[:2]
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


def conv_singular_values(kernel, spatial_shape=None):
    """Every singular value of a stride-1 convolution with circular padding.

    Args:
        kernel: a kernel in the layout of `keras.layers.Conv2D`
            `(kh, kw, c_in, c_out)`, `Conv1D` `(k, c_in, c_out)` or `Dense`
            `(c_in, c_out)` (the matrix itself).
        spatial_shape: the input's spatial size: `(height, width)`,
            `(length,)`, or one int for every spatial axis; `None` or `()`
            for a Dense kernel. It must be at least the kernel's size.

    Returns:
        A 1-D float32 tensor of `prod(spatial_shape) * min(c_in, c_out)`
        values, sorted in descending order.

    Example:
    >>> kernel = keras.random.normal((3, 3, 2, 4))
    >>> conv_singular_values(kernel, (8, 8)).shape
    (128,)
    >>> conv_singular_values(keras.random.normal((3, 2, 4)), (8,)).shape
    (16,)
    """
    kernel, (n1, n2) = as_conv2d(kernel, spatial_shape)
    kernel_shape = tuple(kernel.shape)
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
    "as_conv2d",
    "check_fft_shape",
    "check_kernel",
    "conv_singular_values",
    "kernel_from_spectrum",
    "kernel_spectrum",
]
