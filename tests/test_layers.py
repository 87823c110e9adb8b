"""`IdentityResidualBlock`, `ProjectionResidualBlock`, `NormPreservingTransition`."""

import os

import keras
import numpy as np
import pytest

from keras_procrustes import layers
from keras_procrustes.constraints import ProcrustesProjection


@pytest.mark.parametrize("block_type, filters, channels", [("bottleneck", 4, 16), ("basic", 8, 8)])
def test_identity_block_with_zero_branch_is_identity(block_type, filters, channels):
    block = layers.IdentityResidualBlock(filters, block_type=block_type)
    x = np.random.default_rng(0).normal(size=(2, 5, 5, channels)).astype("float32")
    block(x)
    last_conv = block.convs[-1]
    last_conv.kernel.assign(np.zeros(last_conv.kernel.shape, "float32"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(block(x)), x)


def test_identity_block_parameter_count():
    block = layers.IdentityResidualBlock(16)
    block.build((None, 8, 8, 64))
    # 17 m^2 + 12 m trainable for a bottleneck of inner width m.
    trainable = sum(int(np.prod(w.shape)) for w in block.trainable_weights)
    assert trainable == 17 * 16**2 + 12 * 16


def test_identity_block_refuses_channel_mismatch():
    block = layers.IdentityResidualBlock(16, name="b")
    with pytest.raises(ValueError, match=r"64 channels.*\(None, 8, 8, 32\)"):
        block(keras.Input((8, 8, 32)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": 0}, "filters=0"),
        ({"filters": 4, "block_type": "wide"}, "block_type='wide'"),
    ],
)
def test_identity_block_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layers.IdentityResidualBlock(**kwargs)


def test_projection_block_changes_shape():
    block = layers.ProjectionResidualBlock(8, strides=2)
    out = block(np.zeros((1, 8, 8, 16), "float32"))
    assert tuple(out.shape) == (1, 4, 4, 32)
    assert block.compute_output_shape((None, 8, 8, 16)) == (None, 4, 4, 32)


def test_transition_derives_target_and_fft_size():
    layer = layers.NormPreservingTransition(32)
    out = layer(keras.Input((12, 10, 8)))
    assert tuple(out.shape) == (None, 6, 5, 32)
    assert isinstance(layer.kernel.constraint, ProcrustesProjection)
    assert layer.projection.spatial_shape == (12, 10)
    assert layer.projection.target_for(layer.kernel.shape) == pytest.approx(2.0)
    assert layer.bias is None


def test_stem_form_is_a_3x3_stride_1_transition():
    layer = layers.NormPreservingTransition(16, kernel_size=3, strides=1, target_scale=0.5)
    out = layer(keras.Input((8, 8, 3)))
    assert tuple(out.shape) == (None, 8, 8, 16)
    assert layer.projection.target_for(layer.kernel.shape) == pytest.approx(
        0.5 * np.sqrt(16 / 3)
    )


def test_transition_needs_known_spatial_size():
    with pytest.raises(ValueError, match=r"input_shape=\(None, None, None, 8\)"):
        layers.NormPreservingTransition(16, name="t")(keras.Input((None, None, 8)))


def test_transition_refuses_input_smaller_than_kernel():
    with pytest.raises(ValueError, match="smaller than its 3x3 kernel"):
        layers.NormPreservingTransition(16, 3, strides=1)(keras.Input((2, 2, 8)))


def test_transition_refuses_bad_probability():
    with pytest.raises(ValueError, match="probability=2"):
        layers.NormPreservingTransition(16, probability=2)


def test_layers_round_trip_through_keras_file(tmp_path):
    inputs = keras.Input((8, 8, 4))
    x = layers.NormPreservingTransition(16, 3, strides=1, probability=0.3, seed=5)(inputs)
    x = layers.IdentityResidualBlock(4)(x)
    x = layers.NormPreservingTransition(32)(x)
    x = layers.ProjectionResidualBlock(8, strides=2, block_type="basic")(x)
    model = keras.Model(inputs, x)
    data = np.random.default_rng(1).normal(size=(2, 8, 8, 4)).astype("float32")
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    restored = keras.models.load_model(path)  # safe_mode=True by default
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(data)),
        keras.ops.convert_to_numpy(model(data)),
        atol=1e-5,
    )
    stem = restored.layers[1]
    assert isinstance(stem.kernel.constraint, ProcrustesProjection)
    assert stem.projection.get_config() == model.layers[1].projection.get_config()
