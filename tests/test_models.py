"""Builders: parameter counts, structure, arguments, fit (`.keras` round trips: harness.py)."""

import warnings

import keras
import numpy as np
import pytest

from keras_procrustes import diagnostics
from keras_procrustes import layers
from keras_procrustes import models
from keras_procrustes.ops import spectral


def test_procresnet166_structure():
    model = models.resnet164(scan=False)
    assert model.name == "procresnet166"
    blocks = [l for l in model.layers if isinstance(l, layers.IdentityResidualBlock)]
    transitions = [l for l in model.layers if isinstance(l, layers.NormPreservingTransition)]
    assert len(blocks) == 54
    assert not any(isinstance(b, layers.ConvShortcutResidualBlock) for b in blocks)
    assert [t.name for t in transitions] == ["stem_conv", "transition1", "transition2"]
    assert [t.projection.spatial_shape for t in transitions] == [(32, 32), (32, 32), (16, 16)]
    # 162 convs in blocks + stem + 2 transitions + classifier = 166.
    assert 3 * len(blocks) + len(transitions) + 1 == 166
    assert model.output_shape == (None, 10)


def test_baseline_has_conv_shortcuts_and_no_constraints():
    model = models.resnet164(procrustes=False)
    assert model.name == "resnet164_baseline"
    shortcut_blocks = [
        l.name for l in model.layers if isinstance(l, layers.ConvShortcutResidualBlock)
    ]
    assert shortcut_blocks == ["stage1_block1", "stage2_block1", "stage3_block1"]
    assert all(w.constraint is None for w in model.weights)


def test_resnet56_forms():
    procrustes = models.resnet56()
    baseline = models.resnet56(procrustes=False)
    assert procrustes.name == "procresnet58" and baseline.name == "resnet56_baseline"
    stem = procrustes.get_layer("stem_conv")
    assert tuple(stem.kernel.shape) == (3, 3, 3, 16)
    assert tuple(procrustes.get_layer("transition2").kernel.shape) == (1, 1, 32, 64)
    assert all(b.block_type == "basic" for b in procrustes.layers if hasattr(b, "block_type"))


@pytest.mark.parametrize("depth, block_type, name", [
    (272, None, "procresnet274"), (38, "basic", "procresnet40_basic"),
    (20, "bottleneck", "procresnet22_bottleneck")])
def test_other_depths(depth, block_type, name):
    model = models.resnet(depth, block_type, input_shape=(8, 8, 3))
    assert model.name == name
    blocks = diagnostics.identity_block_names(model)
    per_block = 3 if "bottleneck" in (block_type or "bottleneck") else 2
    assert per_block * len(blocks) + 4 == int(name[len("procresnet"):].split("_")[0])


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


def _pixels(count=4, shape=(8, 8, 3)):
    return np.random.default_rng(0).integers(0, 256, (count, *shape)).astype("uint8")


def test_include_preprocessing_takes_raw_pixels():
    mean, std = [120.0, 115.0, 100.0], [60.0, 62.0, 65.0]
    options = dict(input_shape=(8, 8, 3), classes=3)
    with_it = _small_model(preprocessing_mean=mean, preprocessing_std=std)
    without = _small_model(include_preprocessing=False)
    without.set_weights(with_it.get_weights())
    pixels = _pixels()
    normalised = (pixels.astype("float64") - mean) / std
    np.testing.assert_allclose(
        with_it.predict(pixels, verbose=0),
        without.predict(normalised.astype("float32"), verbose=0), rtol=1e-5, atol=1e-6)
    # By default (keras.applications' convention) [0, 255] maps to [-1, 1].
    default = models.resnet56(**options)
    normalization = default.get_layer("normalization")
    outputs = keras.ops.convert_to_numpy(normalization(np.array([[[[0, 127.5, 255]]]])))
    np.testing.assert_allclose(outputs, [[[[-1.0, 0.0, 1.0]]]], atol=1e-6)
    plain = models.resnet56(include_preprocessing=False, **options)
    assert [l.name for l in default.layers][2:] == [l.name for l in plain.layers][1:]


def _makes_float64():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JAX warns that it truncates
        return keras.backend.standardize_dtype(keras.ops.zeros((), "float64").dtype) == "float64"


X64 = _makes_float64()


@pytest.mark.parametrize("dtype, variables, outputs", [
    pytest.param("float64", "float64", "float64", marks=pytest.mark.skipif(
        not X64, reason="JAX computes float64 with JAX_ENABLE_X64=1 only")),
    ("mixed_bfloat16", "float32", "float32"),
])
@pytest.mark.parametrize("scan", [False, True])
def test_dtype_policy_reaches_every_layer_and_trains(dtype, variables, outputs, scan):
    model = _small_model(dtype=dtype, scan=scan, projection_probability=1.0)
    compute = "bfloat16" if dtype.startswith("mixed") else dtype
    inner = [l for l in model.layers if l.weights or isinstance(l, keras.layers.Normalization)]
    assert all(l.dtype_policy.name == dtype for l in inner if l.name != "predictions")
    assert model.get_layer("predictions").dtype_policy.name == variables
    assert model.get_layer("stage1_stack" if scan else "stage1_block1").compute_dtype == compute
    assert {w.dtype for w in model.weights} == {variables}
    assert model.get_layer("transition1").output.dtype == compute
    x, y = _pixels(8), np.arange(8) % 3
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    predictions = model.predict(x, verbose=0)
    assert predictions.dtype == outputs and np.isfinite(predictions).all()
    transition = model.get_layer("transition1")
    values = spectral.conv_singular_values(transition.kernel, transition.projection.spatial_shape)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(values), np.sqrt(2.0), rtol=1e-4)


@pytest.mark.parametrize("procrustes", [True, False])
def test_pyramid_outputs_are_the_stages_feature_maps(procrustes):
    model = models.resnet(11, "bottleneck", procrustes=procrustes, include_top=False,
                          input_shape=(16, 16, 3), scan=procrustes)
    assert list(model.pyramid_outputs) == ["P0", "P1", "P2"]
    shapes = {key: tuple(value.shape) for key, value in model.pyramid_outputs.items()}
    assert shapes == {"P0": (None, 16, 16, 64), "P1": (None, 8, 8, 128), "P2": (None, 4, 4, 256)}
    backbone = keras.Model(model.inputs, model.pyramid_outputs)
    features = backbone.predict(_pixels(2, (16, 16, 3)), verbose=0)
    assert {key: value.shape[1:] for key, value in features.items()} == {
        key: shape[1:] for key, shape in shapes.items()}
    # The last stage's map, before the final BN-ReLU, feeds the head.
    post_bn = model.get_layer("post_bn")
    assert post_bn.input is model.pyramid_outputs["P2"]
    # After a `.keras` round trip: tests/harness.py's run_preset_test.
    with pytest.raises(ValueError, match="no stage layers"):
        models.pyramid_outputs(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))


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
        (lambda: models.resnet(166, procrustes=False), r"depth=166.*resnet\(164\)"),
        (lambda: models.resnet(38), "depth=38.*pass block_type"),
        (lambda: models.resnet(57, "basic"), "depth=57"),
        (lambda: models.resnet(166, "bottleneck"), "depth=166.*pass depth=164"),
        (lambda: models.resnet164(classes=0), "classes=0"),
        (lambda: models.resnet164(classes=-3), "classes=-3"),
        (lambda: models.resnet164(input_shape=(4, 4, 3)), r"input_shape=\(4, 4, 3\)"),
        (lambda: models.resnet164(input_shape=(None, None, 3)), r"input_shape=\(None, None, 3\)"),
        (lambda: models.resnet164(pooling="mean", include_top=False), "pooling='mean'"),
        (lambda: models.resnet164(weights="/no/such/file.weights.h5"), "weights='/no/such"),
        (lambda: models.resnet164(projection_engine="eig"), "engine='eig'"),
        (lambda: models.resnet164(dtype="float8"), "dtype='float8'"),
        pytest.param(lambda: models.resnet164(dtype="float64"), "JAX_ENABLE_X64.*dtype='float64'",
                     marks=pytest.mark.skipif(X64, reason="float64 works on this backend")),
        (lambda: models.resnet164(preprocessing_mean=[1, 2]), r"preprocessing_mean=\[1, 2\]"),
        (lambda: models.resnet164(preprocessing_std=[1, 0, 1], preprocessing_mean=[0, 0, 0]),
         r"preprocessing_std=\[1, 0, 1\]"),
        (lambda: models.resnet164(preprocessing_mean=[float("nan"), 2, 3], preprocessing_std=1),
         r"preprocessing_mean=\[nan, 2, 3\]"),
        (lambda: models.resnet164(preprocessing_mean=0, preprocessing_std=float("inf")),
         "preprocessing_std=inf"),
        (lambda: models.resnet164(preprocessing_mean="abc", preprocessing_std=1),
         "preprocessing_mean='abc'"),
        (lambda: models.resnet164(include_preprocessing=False, preprocessing_mean=[1, 2, 3]),
         r"include_preprocessing=False.*preprocessing_mean=\[1, 2, 3\]"),
        (lambda: models.resnet164(include_preprocessing=False, preprocessing_std=2.0),
         "preprocessing_std=2.0"),
        (lambda: models.resnet164(classes=True), "classes=True"),
    ],
)
def test_bad_arguments_name_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_scalar_preprocessing_statistics_serve_every_channel():
    x = _pixels()
    scalar = models.resnet(11, "bottleneck", input_shape=(8, 8, 3), classes=3,
                           preprocessing_mean=100.0, preprocessing_std=50)
    listed = models.resnet(11, "bottleneck", input_shape=(8, 8, 3), classes=3,
                           preprocessing_mean=[100.0] * 3, preprocessing_std=[50.0] * 3)
    listed.set_weights(scalar.get_weights())
    np.testing.assert_allclose(scalar.predict(x, verbose=0), listed.predict(x, verbose=0),
                               atol=1e-6)


def test_baseline_accepts_unknown_spatial_size():
    model = models.resnet56(procrustes=False, input_shape=(None, None, 3))
    assert model(np.zeros((1, 20, 24, 3), "float32")).shape == (1, 10)


def _small_model(**kwargs):
    return models.resnet(11, "bottleneck", input_shape=(8, 8, 3), classes=3, **kwargs)


def _small_data(count=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, 8, 8, 3)).astype("float32")
    y = (x[:, :4].mean(axis=(1, 2, 3)) > 0).astype("int32") + (x[..., 0].mean((1, 2)) > 0)
    return x, y


def test_fit_lowers_loss_and_leaves_projected_kernels():
    # The data are normalised already, not pixels.
    model = _small_model(projection_probability=1.0, include_preprocessing=False)
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
