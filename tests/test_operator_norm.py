"""`operator_norm` against numpy's SVD of each layer's dense matrix."""

import keras
import numpy as np
import pytest

from keras_procrustes import diagnostics


def _dense_matrix(layer, input_shape):
    """The matrix of `layer` (no bias, no activation), column by column.

    The layer itself is applied to every basis vector of its input space:
    Keras' own computation, independent of the package.
    """
    size = int(np.prod(input_shape))
    basis = np.eye(size, dtype="float32").reshape((size, *input_shape))
    images = keras.ops.convert_to_numpy(layer(basis))
    return images.reshape(size, -1).T.astype("float64")


LAYERS = {
    "conv2d_strided_same": (lambda: keras.layers.Conv2D(
        3, 3, strides=2, padding="same", use_bias=False), (6, 6, 2)),
    "conv2d_valid": (lambda: keras.layers.Conv2D(
        3, 3, padding="valid", use_bias=False), (5, 5, 2)),
    "conv2d_dilated_same": (lambda: keras.layers.Conv2D(
        2, 3, padding="same", dilation_rate=2, use_bias=False), (6, 6, 2)),
    "conv2d_groups": (lambda: keras.layers.Conv2D(
        4, 3, padding="same", groups=2, use_bias=False), (5, 5, 4)),
    "depthwise_strided": (lambda: keras.layers.DepthwiseConv2D(
        3, strides=2, padding="same", depth_multiplier=2, use_bias=False), (6, 6, 2)),
    "conv1d_causal": (lambda: keras.layers.Conv1D(
        3, 3, padding="causal", use_bias=False), (8, 2)),
    "dense": (lambda: keras.layers.Dense(5, use_bias=False), (7,)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_operator_norm_matches_numpy_svd(name):
    # Seeded: power iteration converges at the rate of the two largest
    # singular values' ratio, and a random kernel can make them nearly equal
    # (groups=2 is two blocks, each with its own largest value).
    keras.utils.set_random_seed(sorted(LAYERS).index(name))
    make, input_shape = LAYERS[name]
    layer = make()
    layer.build((None, *input_shape))
    expected = np.linalg.svd(_dense_matrix(layer, input_shape), compute_uv=False)[0]
    got = diagnostics.operator_norm(layer, tol=1e-7, max_iterations=300)
    assert got == pytest.approx(expected, rel=2e-3)
    assert got <= expected * (1 + 1e-5)  # power iteration approaches from below


def test_bias_and_activation_are_left_out():
    keras.utils.set_random_seed(7)  # as above: a kernel drawn once
    layer = keras.layers.Conv2D(3, 3, padding="same", activation="relu",
                                bias_initializer="ones")
    inputs = keras.Input((5, 5, 2))
    layer(inputs)  # built by a call: the size comes from the build
    plain = keras.layers.Conv2D(3, 3, padding="same", use_bias=False)
    plain.build((None, 5, 5, 2))
    plain.kernel.assign(layer.kernel)
    expected = np.linalg.svd(_dense_matrix(plain, (5, 5, 2)), compute_uv=False)[0]
    assert diagnostics.operator_norm(layer, tol=1e-7) == pytest.approx(expected, rel=2e-3)


def test_unknown_size_and_other_layers_are_refused():
    layer = keras.layers.Conv2D(3, 3)
    layer.build((None, None, None, 2))
    with pytest.raises(ValueError, match="input size of layer"):
        diagnostics.operator_norm(layer)
    assert diagnostics.operator_norm(layer, input_shape=(5, 5, 2)) > 0
    with pytest.raises(ValueError, match="Received layer=BatchNormalization"):
        diagnostics.operator_norm(keras.layers.BatchNormalization())


@pytest.mark.parametrize("arguments, name", [
    ({"max_iterations": 0}, "max_iterations"), ({"max_iterations": -5}, "max_iterations"),
    ({"max_iterations": True}, "max_iterations"), ({"tol": float("nan")}, "tol"),
    ({"tol": -1.0}, "tol"),
])
def test_a_bad_tolerance_or_iteration_cap_is_refused(arguments, name):
    # Before: max_iterations=0 returned a wrong 0.0 and tol=nan ran silently.
    dense = keras.layers.Dense(3)
    dense.build((None, 4))
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        diagnostics.operator_norm(dense, **arguments)
