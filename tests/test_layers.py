"""`IdentityResidualBlock`, `ConvShortcutResidualBlock`, `NormPreservingTransition`."""

import keras
import numpy as np
import pytest

import harness
from keras_procrustes import layers
from keras_procrustes.constraints import ProcrustesProjection
from keras_procrustes.initializers import FourierOrthogonal


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
        ({"filters": True}, "filters=True"),
    ],
)
def test_identity_block_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layers.IdentityResidualBlock(**kwargs)


def test_conv_shortcut_block_changes_shape():
    block = layers.ConvShortcutResidualBlock(8, strides=2)
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


# Every layer of `layers.__all__` through the harness: (arguments, input shape,
# output shape). Arguments away from their defaults, so that a `get_config`
# that drops one fails.
HARNESS_CASES = {
    "ChannelDuplication": ({}, (None, 4, 4, 2), (None, 4, 4, 4)),
    "ConvShortcutResidualBlock": ({"filters": 4, "strides": 2, "block_type": "basic",
                                   "momentum": 0.8}, (None, 6, 6, 2), (None, 3, 3, 4)),
    "GlobalL2Pooling2D": ({"keepdims": True}, (None, 4, 4, 3), (None, 1, 1, 3)),
    "IdentityResidualBlock": ({"filters": 4, "remat": True, "epsilon": 1e-3},
                              (None, 6, 6, 16), (None, 6, 6, 16)),
    "IdentityResidualStack": ({"num_blocks": 2, "filters": 4, "block_type": "basic",
                               "remat": True, "block_prefix": "stage2_block", "first_block": 3},
                              (None, 6, 6, 4), (None, 6, 6, 4)),
    "L2Pooling2D": ({"pool_size": 3}, (None, 6, 6, 2), (None, 2, 2, 2)),
    "NormPreservingTransition": ({"filters": 8, "kernel_size": (3, 3), "strides": (1, 1),
                                  "probability": 0.3, "seed": 5, "target_scale": 0.5,
                                  "kernel_initializer": FourierOrthogonal(
                                      (6, 6), gain=0.9, alternations=2, seed=7)},
                                 (None, 6, 6, 4), (None, 6, 6, 8)),
    "OrthonormalDense": ({"units": 4, "engine": "newton_schulz", "iterations": 7, "seed": 2},
                         (None, 6), (None, 4)),
    "ParameterFreeTransition": ({"pool_size": 3}, (None, 6, 6, 2), (None, 2, 2, 4)),
    "PixelNormalization": ({"mean": [1.0, 2.0, 3.0], "variance": [4.0, 5.0, 6.0]},
                           (None, 4, 4, 3), (None, 4, 4, 3)),
}


def test_the_harness_has_a_case_for_every_layer():
    assert sorted(HARNESS_CASES) == sorted(layers.__all__)


@pytest.mark.parametrize("name", sorted(HARNESS_CASES))
def test_every_layer_passes_the_harness(name):
    init_kwargs, input_shape, output_shape = HARNESS_CASES[name]
    harness.run_layer_test(getattr(layers, name), init_kwargs, input_shape, output_shape)


def _block_model(block, freeze_norms):
    """block (on 8x8x16 inputs) -> average pool -> dense(3), compiled."""
    inputs = keras.Input((8, 8, 16))
    x = block(inputs)
    for norm in block.norms:
        norm.trainable = not freeze_norms
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    model.compile(
        keras.optimizers.SGD(0.1, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


@pytest.mark.parametrize(
    "block_cls, block_kwargs, freeze_norms",
    [
        (layers.IdentityResidualBlock, {"filters": 4}, False),
        (layers.ConvShortcutResidualBlock, {"filters": 4, "strides": 2}, False),
        (layers.IdentityResidualBlock, {"filters": 16, "block_type": "basic"}, True),
    ],
)
def test_remat_block_trains_like_the_plain_block(
    monkeypatch, block_cls, block_kwargs, freeze_norms
):
    # keras.remat is wrapped only to count that the recomputed path ran.
    remat_calls = []
    real_remat = keras.remat
    monkeypatch.setattr(keras, "remat", lambda f: remat_calls.append(f) or real_remat(f))
    rng = np.random.default_rng(0)
    data = rng.normal(size=(12, 8, 8, 16)).astype("float32")
    labels = rng.integers(0, 3, size=12)
    weights = {}
    for remat in (False, True):
        keras.utils.set_random_seed(3)
        block = block_cls(remat=remat, **block_kwargs)
        model = _block_model(block, freeze_norms)
        model.fit(data, labels, batch_size=6, epochs=2, verbose=0, shuffle=False)
        weights[remat] = [keras.ops.convert_to_numpy(w) for w in model.weights]
    assert remat_calls, "the rematerialised path never ran"
    for plain, recomputed in zip(weights[False], weights[True]):
        np.testing.assert_allclose(recomputed, plain, rtol=1e-5, atol=1e-6)
    for norm in block.norms:  # moving statistics: updated iff the norm trains
        moved = not np.allclose(keras.ops.convert_to_numpy(norm.moving_mean), 0.0)
        assert moved != freeze_norms


def test_remat_is_passed_to_every_block_of_a_model():
    from keras_procrustes import models

    for procrustes in (True, False):
        model = models.resnet(11, "bottleneck", procrustes=procrustes, input_shape=(8, 8, 3), remat=True)
        blocks = [
            layer for layer in model.layers if isinstance(layer, layers.IdentityResidualBlock)
        ]
        assert blocks and all(block.remat for block in blocks)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="counts jax.vjp residuals")
def test_remat_keeps_fewer_activations_for_the_backward_pass():
    from memory import saved_for_backward_bytes  # benchmarks/, on pytest's pythonpath

    saved = {}
    for remat in (False, True):
        inputs = keras.Input((16, 16, 64))
        x = inputs
        for _ in range(4):
            x = layers.IdentityResidualBlock(16, remat=remat)(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
        saved[remat] = saved_for_backward_bytes(model, batch_size=8)
    # Plain: each block keeps about 9 maps of 16-64 channels; remat: its input.
    assert saved[True] < 0.4 * saved[False]


@pytest.mark.parametrize("block_type, channels", [("basic", 8), ("bottleneck", 32)])
def test_block_convs_are_drawn_independently(block_type, channels):
    # One initializer object shared by the convs gave them one draw: equal
    # 3x3 kernels in a basic block, scaled copies (correlation 1) in a
    # bottleneck's two 1x1 convs.
    block = layers.IdentityResidualBlock(8, block_type)
    block.build((None, 8, 8, channels))
    first, last = (keras.ops.convert_to_numpy(c.kernel).ravel() for c in block.convs[::len(block.convs) - 1])
    assert abs(np.corrcoef(first, last)[0, 1]) < 0.3
    seeded = [layers.IdentityResidualBlock(8, block_type, kernel_initializer=keras.initializers.HeNormal(seed=3))
              for _ in range(2)]
    for b in seeded:
        b.build((None, 8, 8, channels))
    np.testing.assert_array_equal(*(keras.ops.convert_to_numpy(b.convs[0].kernel) for b in seeded))


def test_conv_shortcut_is_drawn_apart_from_the_branch():
    block = layers.ConvShortcutResidualBlock(8, strides=1)
    block.build((None, 8, 8, 8))
    shortcut = keras.ops.convert_to_numpy(block.shortcut.kernel).ravel()
    last = keras.ops.convert_to_numpy(block.convs[-1].kernel).ravel()
    assert abs(np.corrcoef(shortcut, last)[0, 1]) < 0.3


def test_the_old_name_of_the_conv_shortcut_block_warns():
    with pytest.warns(FutureWarning, match="ProjectionResidualBlock.*ConvShortcutResidualBlock"):
        old = layers.ProjectionResidualBlock
    with pytest.warns(FutureWarning, match="ConvShortcutResidualBlock"):
        from keras_procrustes.layers import ProjectionResidualBlock  # noqa: F401
    with pytest.warns(FutureWarning, match="ConvShortcutResidualBlock"):
        block = old(8, strides=2)
    assert isinstance(block, layers.ConvShortcutResidualBlock)
    assert "ProjectionResidualBlock" not in layers.__all__
    with pytest.raises(AttributeError, match="NoSuchBlock"):
        layers.NoSuchBlock


def _old_form_model():
    """A model saved as the package saved it before the rename: the block's
    config and its weights' path name `ProjectionResidualBlock`."""
    from keras_procrustes.layers.deprecated import ProjectionResidualBlock

    inputs = keras.Input((8, 8, 16))
    with pytest.warns(FutureWarning):
        x = ProjectionResidualBlock(8, strides=2, name="stage2_block1")(inputs)
    outputs = layers.IdentityResidualBlock(8, name="stage2_block2")(x)
    return keras.Model(inputs, outputs)


def test_a_keras_file_with_the_old_block_name_loads(tmp_path):
    import zipfile

    model = _old_form_model()
    path = str(tmp_path / "old.keras")
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert "keras_procrustes>ProjectionResidualBlock" in archive.read("config.json").decode()
    with pytest.warns(FutureWarning, match="ProjectionResidualBlock"):
        restored = keras.models.load_model(path)
    assert isinstance(restored.get_layer("stage2_block1"), layers.ConvShortcutResidualBlock)
    data = np.random.default_rng(2).normal(size=(2, 8, 8, 16)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(data))
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(data)), expected, atol=1e-5)


def test_a_weights_file_with_the_old_block_name_loads_into_the_new_block(tmp_path):
    import h5py

    from keras_procrustes.models.weights import load_weights_file

    old = _old_form_model()
    path = str(tmp_path / "old.weights.h5")
    old.save_weights(path)
    with h5py.File(path, "r") as store:
        assert "projection_residual_block" in store["layers"]
    inputs = keras.Input((8, 8, 16))
    x = layers.ConvShortcutResidualBlock(8, strides=2, name="stage2_block1")(inputs)
    new = keras.Model(inputs, layers.IdentityResidualBlock(8, name="stage2_block2")(x))
    with pytest.raises(ValueError):  # Keras looks for conv_shortcut_residual_block
        new.load_weights(path)
    load_weights_file(new, path)
    data = np.random.default_rng(3).normal(size=(2, 8, 8, 16)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(new(data)),
                               keras.ops.convert_to_numpy(old(data)), atol=1e-5)
