"""Batch normalisation as functions, for code that can't call the layer.

`keras.layers.BatchNormalization` updates its moving statistics inside its
`call`, which `keras.remat` and a scan over stacked blocks can't hold. These
functions compute exactly what the layer computes (`float32` or wider, then
cast back) and leave the update to the caller.
"""

import keras
from keras import ops


def _compute_dtype(inputs):
    return keras.backend.result_type(inputs.dtype, "float32")


def normalize_with_batch_moments(inputs, gamma, beta, epsilon):
    """Training-mode batch norm over every axis but the last.

    Args:
        inputs: a tensor, channels last.
        gamma: the scale, one per channel.
        beta: the offset, one per channel.
        epsilon: added to the variance.

    Returns:
        `(outputs, mean, variance)`: outputs in the compute dtype (float32
        or wider) and the batch moments.
    """
    dtype = _compute_dtype(inputs)
    inputs = ops.cast(inputs, dtype)
    axes = list(range(len(inputs.shape) - 1))
    mean, variance = ops.moments(inputs, axes=axes)
    outputs = ops.batch_normalization(
        inputs,
        mean,
        variance,
        axis=-1,
        offset=ops.cast(beta, dtype),
        scale=ops.cast(gamma, dtype),
        epsilon=epsilon,
    )
    return outputs, mean, variance


def normalize_with_moving_moments(inputs, gamma, beta, mean, variance, epsilon):
    """Inference-mode batch norm with given (moving) moments.

    Args:
        inputs: a tensor, channels last.
        gamma: the scale, one per channel.
        beta: the offset, one per channel.
        mean: the moving mean.
        variance: the moving variance.
        epsilon: added to the variance.

    Returns:
        The outputs in the compute dtype (float32 or wider).
    """
    dtype = _compute_dtype(inputs)
    return ops.batch_normalization(
        ops.cast(inputs, dtype),
        ops.cast(mean, dtype),
        ops.cast(variance, dtype),
        axis=-1,
        offset=ops.cast(beta, dtype),
        scale=ops.cast(gamma, dtype),
        epsilon=epsilon,
    )


def batch_normalize(norm, inputs):
    """Training-mode batch norm by a built `BatchNormalization`, no update.

    Args:
        norm: a built `keras.layers.BatchNormalization` (last axis).
        inputs: its input.

    Returns:
        `(outputs, mean, variance)`: the normalised inputs in the layer's
        compute dtype and the batch moments (float32 or wider).
    """
    outputs, mean, variance = normalize_with_batch_moments(
        inputs, norm.gamma, norm.beta, norm.epsilon
    )
    return ops.cast(outputs, norm.compute_dtype), mean, variance


def moving_average(moving, batch, momentum):
    """`moving * momentum + batch * (1 - momentum)`, as BatchNormalization.

    Args:
        moving: the moving statistic (a variable or tensor).
        batch: the batch statistic; its gradient is stopped.
        momentum: the batch-norm momentum.

    Returns:
        The new moving statistic, in the batch statistic's dtype.
    """
    batch = ops.stop_gradient(batch)
    return ops.cast(moving, batch.dtype) * momentum + batch * (1.0 - momentum)


def update_moving_statistics(norm, mean, variance):
    """Moves `norm`'s moving mean and variance toward batch moments.

    Args:
        norm: a built `keras.layers.BatchNormalization`.
        mean: the batch mean.
        variance: the batch variance.
    """
    norm.moving_mean.assign(moving_average(norm.moving_mean, mean, norm.momentum))
    norm.moving_variance.assign(
        moving_average(norm.moving_variance, variance, norm.momentum)
    )
