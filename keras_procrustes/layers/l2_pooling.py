"""L2 pooling: the square root of the sum of squares over each window.

The first form of Procrustes ResNets (Zaeemzadeh et al., arXiv:1805.07477
v1, 2018) changes resolution with non-overlapping L2 pooling instead of a
learned transition, and pools the head globally the same way. Over
non-overlapping windows that cover the input, the output's L2 norm is the
input's exactly, and the Jacobian's rows are orthonormal wherever a window
is nonzero: the row of window `w` is `x_w / ||x_w||` on the window's own
entries.
"""

import keras
from keras import ops

from keras_procrustes import checks


def safe_sqrt(squares):
    """`sqrt(squares)` for `squares >= 0`, with gradient 0 where it is 0.

    The forward value is exactly `sqrt(squares)` (no epsilon). A plain sqrt
    has an infinite derivative at 0, which the chain rule turns into NaN
    (`inf * 0`) on every backend; Torch's `sqrt` backward, which the
    authors' code ran on, returns 0 there. The square root here runs on
    `where(s > 0, s, 1)` and its result is replaced by 0 where `s == 0`, so
    the unselected branch has a finite derivative and gets a zero upstream
    gradient.

    Args:
        squares: a tensor of non-negative values (sums of squares).

    Returns:
        A tensor of the same shape and dtype.
    """
    positive = squares > 0
    root = ops.sqrt(ops.where(positive, squares, ops.ones_like(squares)))
    return ops.where(positive, root, ops.zeros_like(squares))


def _squares_in_float32(inputs):
    """`inputs ** 2` in float32 at least (float64 stays float64).

    Under a mixed `float16` policy a square overflows float16 (max 65504)
    from inputs of about 256, and a window's sum sooner; float32 holds them.
    """
    dtype = keras.backend.result_type(inputs.dtype, "float32")
    return ops.square(ops.cast(inputs, dtype))


@keras.saving.register_keras_serializable(package="keras_procrustes")
class L2Pooling2D(keras.layers.Layer):
    """L2 pooling over `pool_size x pool_size` windows, stride `pool_size`.

    `y[b, i, j, c] = sqrt(sum over the window (i, j) of x[b, ., ., c] ** 2)`,
    as the authors' Torch code computes it (square, average pool, times the
    window's size, square root). Rows and columns past the last whole
    window are dropped, as Torch's pooling drops them; the output's L2 norm
    equals the input's when height and width are multiples of `pool_size`.
    Where a window is all zero the output is 0 and its gradient is 0, never
    NaN (`safe_sqrt`). The squares are summed in float32 (at least), so a
    `mixed_float16` policy does not overflow; the output is in the layer's
    compute dtype. Channels last.

    Args:
        pool_size: the window's side and the stride, a positive int.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> x = keras.Input((32, 32, 64))
    >>> y = L2Pooling2D(2)(x)  # (16, 16, 64), same L2 norm
    """

    def __init__(self, pool_size=2, **kwargs):
        super().__init__(**kwargs)
        checks.check_positive_int("pool_size", pool_size)
        self.pool_size = pool_size

    def call(self, inputs):
        size = self.pool_size
        mean_squares = ops.average_pool(
            _squares_in_float32(inputs), size, strides=size, padding="valid"
        )
        norms = safe_sqrt(mean_squares * float(size * size))
        return ops.cast(norms, inputs.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        height, width = (
            None if n is None else n // self.pool_size for n in (height, width)
        )
        return (batch, height, width, channels)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}


@keras.saving.register_keras_serializable(package="keras_procrustes")
class GlobalL2Pooling2D(keras.layers.Layer):
    """The L2 norm of each channel over all positions, per example.

    `y[b, c] = sqrt(sum over (i, j) of x[b, i, j, c] ** 2)`: the head of the
    paper's 2018 form, which keeps the feature map's norm exactly (one
    window covering the whole map). The gradient of an all-zero channel is
    0, never NaN (`safe_sqrt`). The squares are summed in float32 (at
    least); the output is in the layer's compute dtype. Channels last.

    Args:
        keepdims: keep the spatial axes, as size 1.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> x = keras.Input((8, 8, 256))
    >>> y = GlobalL2Pooling2D()(x)  # (256,)
    """

    def __init__(self, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = bool(keepdims)

    def call(self, inputs):
        squares = ops.sum(
            _squares_in_float32(inputs), axis=(1, 2), keepdims=self.keepdims
        )
        return ops.cast(safe_sqrt(squares), inputs.dtype)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0], 1, 1, input_shape[-1])
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}
