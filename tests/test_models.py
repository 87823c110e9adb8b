"""Builders: parameter counts, structure, arguments, save/load, fit."""

import os

import keras
import numpy as np
import pytest

from keras_procrustes import diagnostics
from keras_procrustes import layers
from keras_procrustes import models
from keras_procrustes import spectral


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize(
    "builder, kwargs, expected",
    [
        # SPEC section 2: measured on the authors' classes and by hand.
        (models.resnet164, {}, 1_715_018),
        (models.resnet164, {"classes": 100}, 1_715_018 + 23_130),
        (models.resnet1001, {}, 10_339_466),
        (models.resnet1001, {"classes": 100}, 10_339_466 + 23_130),
    ],
)
def test_procrustes_parameter_counts_are_exact(builder, kwargs, expected):
    assert _trainable(builder(**kwargs)) == expected


@pytest.mark.parametrize("classes", [10, 100])
def test_baseline_resnet164_is_1_7m(classes):
    model = models.resnet164(procrustes=False, classes=classes)
    expected = 1.70e6 + (23_130 if classes == 100 else 0)
    assert abs(_trainable(model) - expected) / expected < 0.015


def test_procresnet166_structure():
    model = models.resnet164(scan=False)
    assert model.name == "procresnet166"
    blocks = [l for l in model.layers if isinstance(l, layers.IdentityResidualBlock)]
    transitions = [l for l in model.layers if isinstance(l, layers.NormPreservingTransition)]
    assert len(blocks) == 54
    assert not any(isinstance(b, layers.ProjectionResidualBlock) for b in blocks)
    assert [t.name for t in transitions] == ["stem_conv", "transition1", "transition2"]
    assert [t.projection.spatial_shape for t in transitions] == [(32, 32), (32, 32), (16, 16)]
    # 162 convs in blocks + stem + 2 transitions + classifier = 166.
    assert 3 * len(blocks) + len(transitions) + 1 == 166
    assert model.output_shape == (None, 10)


def test_baseline_has_projection_shortcuts_and_no_constraints():
    model = models.resnet164(procrustes=False)
    assert model.name == "resnet164"
    shortcut_blocks = [
        l.name for l in model.layers if isinstance(l, layers.ProjectionResidualBlock)
    ]
    assert shortcut_blocks == ["stage1_block1", "stage2_block1", "stage3_block1"]
    assert all(w.constraint is None for w in model.weights)


def test_resnet56_forms():
    procrustes = models.resnet56()
    baseline = models.resnet56(procrustes=False)
    assert procrustes.name == "procresnet58" and baseline.name == "resnet56"
    stem = procrustes.get_layer("stem_conv")
    assert tuple(stem.kernel.shape) == (3, 3, 3, 16)
    assert tuple(procrustes.get_layer("transition2").kernel.shape) == (1, 1, 32, 64)
    assert abs(_trainable(baseline) - 0.85e6) / 0.85e6 < 0.02


@pytest.mark.parametrize("depth, name", [(272, "procresnet274"), (274, "procresnet274"), (632, "procresnet634")])
def test_other_depths(depth, name):
    model = models.resnet(depth)  # scanned: 30 or more blocks a stage
    assert model.name == name
    blocks = diagnostics.identity_block_names(model)
    assert 3 * len(blocks) + 4 == int(name[len("procresnet"):])


def test_registry():
    names = models.list_models()
    assert {"resnet56", "resnet164", "procresnet166", "resnet1001", "procresnet1003"} <= set(names)
    assert models.get("resnet272", classes=5).output_shape == (None, 5)
    with pytest.raises(ValueError, match="name='resnet50'"):
        models.get("resnet50")


def test_headless_and_pooling():
    features = models.resnet56(include_top=False)
    assert features.output_shape == (None, 8, 8, 64)
    pooled = models.resnet56(include_top=False, pooling="max", input_shape=(28, 28, 1))
    assert pooled.output_shape == (None, 64)


def test_input_tensor():
    tensor = keras.Input((16, 16, 3))
    model = models.resnet56(input_tensor=tensor, classes=4)
    assert model.inputs[0] is tensor
    assert model.output_shape == (None, 4)


def test_projection_options_reach_the_layers():
    model = models.resnet56(
        projection_probability=0.25, projection_engine="newton_schulz",
        projection_target_scale=0.8, project_stem=False, seed=4,
    )
    assert not isinstance(model.get_layer("stem_conv"), layers.NormPreservingTransition)
    projection = model.get_layer("transition1").projection
    assert (projection.probability, projection.engine, projection.target_scale, projection.seed) == (
        0.25, "newton_schulz", 0.8, 4)
    plain = models.resnet56(project_transitions=False)
    assert plain.get_layer("transition1").kernel.constraint is None


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: models.resnet(165), "depth=165"),
        (lambda: models.resnet(166, procrustes=False), "depth=166"),
        (lambda: models.resnet(57, "basic"), "depth=57"),
        (lambda: models.resnet164(classes=0), "classes=0"),
        (lambda: models.resnet164(classes=-3), "classes=-3"),
        (lambda: models.resnet164(input_shape=(4, 4, 3)), r"input_shape=\(4, 4, 3\)"),
        (lambda: models.resnet164(input_shape=(None, None, 3)), r"input_shape=\(None, None, 3\)"),
        (lambda: models.resnet164(pooling="mean", include_top=False), "pooling='mean'"),
        (lambda: models.resnet164(weights="/no/such/file.weights.h5"), "weights=/no/such"),
        (lambda: models.resnet164(projection_engine="eig"), "engine='eig'"),
    ],
)
def test_bad_arguments_name_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_baseline_accepts_unknown_spatial_size():
    model = models.resnet56(procrustes=False, input_shape=(None, None, 3))
    assert model(np.zeros((1, 20, 24, 3), "float32")).shape == (1, 10)


def _small_model(**kwargs):
    return models.resnet(11, input_shape=(8, 8, 3), classes=3, **kwargs)


def _small_data(count=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, 8, 8, 3)).astype("float32")
    y = (x[:, :4].mean(axis=(1, 2, 3)) > 0).astype("int32") + (x[..., 0].mean((1, 2)) > 0)
    return x, y


def test_keras_file_round_trip(tmp_path):
    model = _small_model()
    x, y = _small_data(8)
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "procresnet.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    for name in ("stem_conv", "transition1", "transition2"):
        original, loaded = model.get_layer(name), restored.get_layer(name)
        assert loaded.kernel.constraint.get_config() == original.kernel.constraint.get_config()


def test_fit_lowers_loss_and_leaves_projected_kernels():
    model = _small_model(projection_probability=1.0)
    x, y = _small_data()
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    for name in ("transition1", "transition2"):
        layer = model.get_layer(name)
        values = spectral.conv_singular_values(layer.kernel, layer.projection.spatial_shape)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(values), np.sqrt(2.0), atol=1e-4)
    stem = model.get_layer("stem_conv")
    values = keras.ops.convert_to_numpy(
        spectral.conv_singular_values(stem.kernel, stem.projection.spatial_shape)
    )
    target = np.sqrt(stem.filters / 3)
    # One projection per step of a 3x3 kernel: near the target, not on it.
    assert np.abs(np.log(values / target)).max() < 0.25
