"""Diagnostics of models not built with this package: blocks found from `Add` merges."""

import keras
import numpy as np
import pytest

from harness import batch, gradient
from keras_procrustes import diagnostics


def _norm(tensor):
    return float(np.linalg.norm(keras.ops.convert_to_numpy(tensor)))


def _gradient_norm_at(model, tensor, x, y):
    """||dL/d tensor|| by hand: the model cut at `tensor` into head and tail."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    head = keras.Model(model.input, tensor)
    tail = keras.Model(tensor, model.output)
    with keras.StatelessScope():
        value = head(x, training=True)
    return _norm(gradient(lambda a: loss_fn(y, tail(a, training=True)), value))


def _two_block_model():
    """conv stem -> identity block -> strided block with a 1x1 conv shortcut -> head."""
    inputs = keras.Input((8, 8, 3))
    stem = keras.layers.Conv2D(4, 3, padding="same", name="stem")(inputs)
    branch = keras.layers.Activation("relu", name="relu1")(stem)
    branch = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(branch)
    first = keras.layers.Add(name="block1")([stem, branch])
    preact = keras.layers.BatchNormalization(name="preact_bn")(first)
    preact = keras.layers.Activation("relu", name="preact_relu")(preact)
    shortcut = keras.layers.Conv2D(8, 1, strides=2, name="shortcut")(preact)
    branch = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="conv2")(preact)
    second = keras.layers.Add(name="block2")([shortcut, branch])
    pooled = keras.layers.GlobalAveragePooling2D()(second)
    outputs = keras.layers.Dense(3, activation="softmax")(pooled)
    return keras.Model(inputs, outputs), (stem, first, second)


def test_two_block_model_ratios_match_autodiff_by_hand():
    model, (stem, first, second) = _two_block_model()
    x, y = batch(4, 8, 3)
    ratios = diagnostics.gradient_norm_ratios(model, x, y)
    assert list(ratios) == ["block1", "block2"]
    assert diagnostics.identity_block_names(model) == ["block1"]
    norms = [_gradient_norm_at(model, t, x, y) for t in (stem, first, second)]
    # block2's pre-activation belongs to it: its input is block1's output.
    assert ratios["block1"] == pytest.approx(norms[0] / norms[1], rel=1e-4)
    assert ratios["block2"] == pytest.approx(norms[1] / norms[2], rel=1e-4)


def _resnet50v2():
    return keras.applications.ResNet50V2(weights=None, input_shape=(32, 32, 3), classes=4)


def test_resnet50v2_has_16_blocks_that_chain():
    model = _resnet50v2()
    blocks = diagnostics.find_blocks(model)
    names = [b.names[0] for b in blocks]
    assert len(names) == 16 and names[0] == "conv2_block1_out" and names[-1] == "conv5_block3_out"
    assert blocks[0].input is model.get_layer("pool1_pool").output
    for previous, block in zip(blocks, blocks[1:]):  # the blocks chain
        assert block.input is previous.output
    identity = diagnostics.identity_block_names(model)
    assert len(identity) == 16 - 3 - 4  # not the conv-shortcut nor the pooling-shortcut blocks


# On JAX the reference runs op by op, and each op of the four cuts compiles
# on its first call: 28 s of CI's time. JAX's ratios are checked by hand on
# the two-block model above, and docs/measuring_any_model.md prints
# ResNet50V2's on every backend.
@pytest.mark.skipif(keras.backend.backend() == "jax",
                    reason="ResNet50V2 by hand on TensorFlow and torch (JAX: the two-block model)")
def test_resnet50v2_ratios_match_autodiff_by_hand():
    model = _resnet50v2()
    blocks = diagnostics.find_blocks(model)
    names = [b.names[0] for b in blocks]
    # 8 images: batch norm in training mode over conv5's 1x1 maps of 2 images
    # would be so ill-conditioned that two orders of the same float32 sums
    # (eager and compiled) differ by 3%.
    x, y = batch(8, 32, 4)
    ratios = diagnostics.gradient_norm_ratios(model, x, y)
    assert list(ratios) == names
    # The first three blocks chain: conv shortcut, identity, pooling shortcut.
    points = [blocks[0].input] + [block.output for block in blocks[:3]]
    norms = [_gradient_norm_at(model, tensor, x, y) for tensor in points]
    for index in range(3):
        assert ratios[names[index]] == pytest.approx(norms[index] / norms[index + 1], rel=1e-3)


def test_nested_model_blocks_are_found_at_its_place():
    inner, _ = _two_block_model()
    inputs = keras.Input((8, 8, 3))
    wrapper = keras.Model(inputs, inner(inputs))
    x, y = batch(4, 8, 3)
    direct = diagnostics.gradient_norm_ratios(inner, x, y)
    nested = diagnostics.gradient_norm_ratios(wrapper, x, y)
    assert list(nested) == list(direct)
    for name in direct:
        assert nested[name] == pytest.approx(direct[name], rel=1e-5)


def test_signal_propagation_matches_numpy_statistics():
    model, (_, first, second) = _two_block_model()
    x, _ = batch(4, 8, 3)
    stats = diagnostics.signal_propagation(model, x)
    assert list(stats) == ["block1", "block2"]
    for name, tensor in (("block1", first), ("block2", second)):
        with keras.StatelessScope():
            values = keras.ops.convert_to_numpy(
                keras.Model(model.input, tensor)(x, training=True))
        flat = values.reshape(-1, values.shape[-1]).astype("float64")
        assert stats[name].mean_squared == pytest.approx(
            np.mean(flat.mean(axis=0) ** 2), rel=1e-4)
        assert stats[name].variance == pytest.approx(np.mean(flat.var(axis=0)), rel=1e-4)


def test_an_add_of_two_inputs_is_not_a_block():
    a, b = keras.Input((4,)), keras.Input((4,))
    model = keras.Model([a, b], keras.layers.Add()([a, b]))
    assert diagnostics.find_blocks(model) == []
    with pytest.raises(ValueError, match="no residual block"):
        diagnostics.gradient_norm_ratios(model, [np.ones((1, 4))] * 2, np.zeros((1, 4)))


def test_signal_propagation_of_a_scanned_stack_equals_the_unrolled_blocks():
    from keras_procrustes import models

    keras.utils.set_random_seed(0)
    options = dict(input_shape=(8, 8, 3), classes=3, include_preprocessing=False)
    unrolled = models.get("procresnet22_bottleneck", scan=False, **options)
    scanned = models.convert_weights(
        unrolled, models.get("procresnet22_bottleneck", scan=True, **options))
    x, _ = batch(4, 8, 3)
    expected = diagnostics.signal_propagation(unrolled, x)
    got = diagnostics.signal_propagation(scanned, x)
    assert list(got) == list(expected) and "stage2_block2" in got
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-4)
