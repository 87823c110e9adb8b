"""The paper's first (2018) form: L2 pooling, duplication, orthonormal classifier, models."""


import keras
import numpy as np
import pytest

from harness import check_keras_file_round_trip, close, gradient, to_numpy, trainable_count
from keras_procrustes.ops import autodiff
from keras_procrustes import diagnostics
from keras_procrustes import layers
from keras_procrustes import models

TINY = dict(input_shape=(8, 8, 3), classes=3, include_preprocessing=False)


def _l2_pool_numpy(x, k):
    """Independent reference: windows by reshaping, in float64."""
    b, h, w, c = x.shape
    windows = x[:, : h // k * k, : w // k * k].astype("float64")
    windows = windows.reshape(b, h // k, k, w // k, k, c)
    return np.sqrt(np.sum(windows**2, axis=(2, 4)))


# --- L2 pooling -------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3])
def test_l2_pooling_keeps_the_norm_and_matches_numpy(k):
    rng = np.random.default_rng(k)
    x = rng.normal(size=(2, 3 * k, 2 * k, 5)).astype("float32")
    x[0, :k, :k, 1] = 0.0  # one all-zero window
    y = to_numpy(layers.L2Pooling2D(k)(x))
    np.testing.assert_allclose(y, _l2_pool_numpy(x, k), rtol=1e-6, atol=1e-7)
    assert y[0, 0, 0, 1] == 0.0
    for i in range(2):  # per example and over the batch
        assert np.linalg.norm(y[i]) == pytest.approx(np.linalg.norm(x[i].astype("float64")), rel=1e-6)
    assert np.linalg.norm(y) == pytest.approx(np.linalg.norm(x.astype("float64")), rel=1e-6)


def test_l2_pooling_drops_what_no_window_covers_as_torch_does():
    x = np.random.default_rng(0).normal(size=(1, 5, 4, 2)).astype("float32")
    y = layers.L2Pooling2D(2)(x)
    assert tuple(y.shape) == (1, 2, 2, 2)
    np.testing.assert_allclose(to_numpy(y), _l2_pool_numpy(x, 2), rtol=1e-6)


def test_l2_pooling_jacobian_rows_are_orthonormal_on_nonzero_windows():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 4, 4, 2)).astype("float32")
    x[0, 2:, :2, 0] = 0.0  # window (1, 0) of channel 0 is all zero
    pool = layers.L2Pooling2D(2)
    outputs = int(np.prod(pool.compute_output_shape(x.shape)[1:]))
    jacobian = np.stack([
        gradient(lambda t, i=i: keras.ops.reshape(pool(t), (-1,))[i], x).ravel()
        for i in range(outputs)
    ])  # (8, 32): row i is d y_i / d x
    assert np.all(np.isfinite(jacobian))
    zero_row = np.ravel_multi_index((1, 0, 0), (2, 2, 2))
    np.testing.assert_array_equal(jacobian[zero_row], 0.0)
    nonzero = np.delete(jacobian, zero_row, axis=0)
    np.testing.assert_allclose(nonzero @ nonzero.T, np.eye(outputs - 1), atol=1e-6)
    # Each row is x / ||x|| on its own window (numpy).
    y = _l2_pool_numpy(x, 2).ravel()
    expected = np.zeros_like(jacobian)
    for index in np.ndindex(1, 4, 4, 2):
        _, row, col, channel = index
        out = np.ravel_multi_index((row // 2, col // 2, channel), (2, 2, 2))
        if y[out] > 0:
            expected[out, np.ravel_multi_index(index, x.shape)] = x[index] / y[out]
    np.testing.assert_allclose(jacobian, expected, atol=1e-6)


@pytest.mark.parametrize("layer", [layers.L2Pooling2D(2), layers.GlobalL2Pooling2D(),
                                   layers.ParameterFreeTransition()])
def test_gradient_at_an_all_zero_window_is_zero_not_nan(layer):
    x = np.zeros((2, 4, 4, 3), "float32")
    assert np.all(to_numpy(layer(x)) == 0.0)
    grads = gradient(layer, x)
    assert np.all(np.isfinite(grads)) and np.all(grads == 0.0)


@pytest.fixture
def mixed_float16():
    """The global `mixed_float16` policy for one test."""
    previous = keras.config.dtype_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("make, reference", [
    (lambda: layers.L2Pooling2D(2), lambda x: _l2_pool_numpy(x, 2)),
    (lambda: layers.GlobalL2Pooling2D(), lambda x: np.sqrt(np.sum(x**2, axis=(1, 2)))),
])
def test_l2_pooling_under_mixed_float16_sums_squares_without_overflow(
    mixed_float16, make, reference
):
    # 300 ** 2 = 9e4 is past float16's largest value (65504); the norms
    # (600 and 1200 here) are not.
    x = 300.0 + np.random.default_rng(4).normal(size=(2, 4, 4, 3))
    layer = make()
    y = layer(x.astype("float32"))
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    expected = reference(x.astype("float16").astype("float64"))
    np.testing.assert_allclose(to_numpy(y), expected, rtol=1e-3)


@pytest.mark.parametrize("dtype", [None, "mixed_float16", "float16"])
def test_the_2018_form_refuses_float16_and_keeps_bfloat16(mixed_float16, dtype):
    # Under mixed_float16 procresnet56_2018 predicted 0.1 for every class
    # (activations past 65504, even with the residual stream in float32).
    with pytest.raises(ValueError, match=r"can't compute in float16.*Received dtype='(mixed_)?float16'"):
        models.get("procresnet20_2018", dtype=dtype, **TINY)
    model = models.get("procresnet20_2018", dtype="mixed_bfloat16", **TINY)
    assert model.get_layer("stem_conv").compute_dtype == "bfloat16"


def test_global_l2_pooling_is_each_channels_norm():
    x = np.random.default_rng(2).normal(size=(3, 4, 5, 6)).astype("float32")
    expected = np.sqrt(np.sum(x.astype("float64") ** 2, axis=(1, 2)))
    np.testing.assert_allclose(to_numpy(layers.GlobalL2Pooling2D()(x)), expected, rtol=1e-6)
    kept = layers.GlobalL2Pooling2D(keepdims=True)(x)
    assert tuple(kept.shape) == (3, 1, 1, 6)
    # Its gradient is x / ||x|| per channel.
    np.testing.assert_allclose(gradient(layers.GlobalL2Pooling2D(), x), x / expected[:, None, None],
                               rtol=1e-5, atol=1e-7)


def test_training_on_all_zero_images_gives_finite_weights():
    keras.utils.set_random_seed(0)
    model = models.get("procresnet11_bottleneck_2018", **TINY)
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
                  "sparse_categorical_crossentropy")
    x, y = np.zeros((8, 8, 8, 3), "float32"), np.arange(8) % 3
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    for weight in model.weights:
        assert np.all(np.isfinite(to_numpy(weight))), weight.path


# --- duplication and the transition -----------------------------------------


def test_channel_duplication_forward_and_backward_against_numpy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    upstream = rng.normal(size=(2, 3, 3, 8)).astype("float32")
    duplicate = layers.ChannelDuplication()
    np.testing.assert_array_equal(to_numpy(duplicate(x)), np.concatenate([x, x], axis=-1))
    weights = keras.ops.convert_to_tensor(upstream)
    grads = gradient(lambda t: duplicate(t) * weights, x)
    np.testing.assert_allclose(grads, upstream[..., :4] + upstream[..., 4:], rtol=1e-6)


def test_parameter_free_transition_pools_then_duplicates():
    x = np.random.default_rng(4).normal(size=(2, 4, 6, 3)).astype("float32")
    transition = layers.ParameterFreeTransition()
    pooled = _l2_pool_numpy(x, 2)
    np.testing.assert_allclose(to_numpy(transition(x)), np.concatenate([pooled, pooled], -1),
                               rtol=1e-6)
    assert transition.compute_output_shape((None, 4, 6, 3)) == (None, 2, 3, 6)
    assert not transition.weights


# --- the orthonormal classifier ---------------------------------------------


def _singular_values(layer):
    return np.linalg.svd(to_numpy(layer.kernel), compute_uv=False)


@pytest.mark.parametrize("inputs, units", [(16, 5), (6, 9)])
def test_orthonormal_dense_starts_on_the_manifold(inputs, units):
    layer = layers.OrthonormalDense(units, kernel_initializer="glorot_uniform")
    layer.build((None, inputs))
    np.testing.assert_allclose(_singular_values(layer), 1.0, atol=1e-5)
    assert layer.projection.probability == 1.0 and layer.projection.target == 1.0


def test_classifier_singular_values_stay_one_through_fit():
    keras.utils.set_random_seed(0)
    model = models.get("procresnet11_bottleneck_2018", **TINY)
    classifier = model.get_layer("predictions")
    assert isinstance(classifier, layers.OrthonormalDense)
    assert tuple(classifier.kernel.shape) == (256, 3)
    start = to_numpy(classifier.kernel)
    np.testing.assert_allclose(np.linalg.svd(start, compute_uv=False), 1.0, atol=1e-5)
    model.compile(keras.optimizers.SGD(0.5, momentum=0.9, nesterov=True, weight_decay=1e-2),
                  "sparse_categorical_crossentropy")
    rng = np.random.default_rng(5)
    model.fit(rng.normal(size=(12, 8, 8, 3)).astype("float32"), rng.integers(0, 3, 12),
              batch_size=4, epochs=1, verbose=0)
    after = to_numpy(classifier.kernel)
    assert np.abs(after - start).max() > 1e-3  # it was trained
    np.testing.assert_allclose(np.linalg.svd(after, compute_uv=False), 1.0, atol=1e-5)
    assert np.abs(to_numpy(classifier.bias)).max() > 0  # the bias is trained, not projected


# --- models, presets, names -------------------------------------------------


# Counted by hand from the layer list: stem 3*3*3*16; blocks 4,544 / 17,792 /
# 70,400 (bottleneck at 64 / 128 / 256) or 4,672 / 18,560 / 73,984 (basic at
# 16 / 32 / 64); the head's BN (2 * width) and Dense (width * classes + classes).
def _hand_count(n, blocks, width, classes):
    return 432 + n * sum(blocks) + 2 * width + width * classes + classes


@pytest.mark.parametrize("name, classes, expected", [
    ("procresnet164_2018", 10, 1_672_762),
    ("procresnet164_2018", 100, 1_695_892),
    ("procresnet1001_2018", 10, 10_297_210),
    ("procresnet1001_2018", 100, 10_320_340),
])
def test_preset_parameter_counts(name, classes, expected):
    # ProcrustesResNet-1001 builds in about 2 s: its stages are scanned.
    assert models.PRESETS[name]["parameters"][classes] == expected
    n = {"procresnet164_2018": 18, "procresnet1001_2018": 111}[name]
    assert _hand_count(n, (4_544, 17_792, 70_400), 256, classes) == expected
    model = models.get(name, classes=classes)
    assert model.name == name and trainable_count(model) == expected


def test_basic_depth_56_through_the_generic_builder():
    model = models.procresnet_2018(56, input_shape=(8, 8, 3))
    assert model.name == "procresnet56_2018"
    assert trainable_count(model) == _hand_count(9, (4_672, 18_560, 73_984), 64, 10) == 876_154
    assert model.get_layer("stage1_block1").block_type == "basic"
    assert not [l for l in model.layers if isinstance(l, layers.ChannelDuplication)]


def test_names_and_registry():
    assert models.list_models("*_2018") == ["procresnet1001_2018", "procresnet164_2018"]
    assert models.canonical_name("procresnet164_2018") == "procresnet164_2018"
    assert models.canonical_name("procresnet20_bottleneck_2018") == "procresnet20_bottleneck_2018"
    assert models.canonical_name("procresnet166") == "procresnet166"  # the 2020 form, unchanged
    model = models.get_builder("procresnet20_bottleneck_2018")(**TINY)
    assert model.name == "procresnet20_bottleneck_2018"
    with pytest.raises(models.UnknownModelName, match="procresnet21_bottleneck_2018.*9n\\+2"):
        models.get("procresnet21_bottleneck_2018")
    with pytest.raises(models.UnknownModelName, match="needs a block type .'_basic' or "
                       "'_bottleneck' before '_2018'"):
        models.get("procresnet29_2018")
    with pytest.raises(models.UnknownModelName) as info:  # D is He et al.'s depth here
        models.get("procresnet58_2018")
    assert "resnet(56)" not in str(info.value) and "block type" in str(info.value)


def test_graph_transitions_pyramid_and_pooling():
    model = models.get("procresnet11_bottleneck_2018", input_shape=(16, 16, 3))
    names = [layer.name for layer in model.layers]
    assert names[names.index("stem_conv"):names.index("stage1_block1")] == [
        "stem_conv", "stem_duplication1", "stem_duplication2"]
    assert model.get_layer("stem_duplication2").output.shape[-1] == 64
    for index, shape in ((1, (8, 8, 128)), (2, (4, 4, 256))):
        transition = model.get_layer(f"transition{index}")
        assert isinstance(transition, layers.ParameterFreeTransition)
        assert tuple(transition.output.shape[1:]) == shape
    assert {k: tuple(v.shape[1:]) for k, v in model.pyramid_outputs.items()} == {
        "P0": (16, 16, 64), "P1": (8, 8, 128), "P2": (4, 4, 256)}
    backbone = models.get("procresnet11_bottleneck_2018", include_top=False, pooling="l2", **TINY)
    assert backbone.output_shape == (None, 256)
    assert isinstance(backbone.layers[-1], layers.GlobalL2Pooling2D)


@pytest.mark.parametrize("kwargs, message", [
    (dict(pooling="sum"), "pooling='sum'"),
    (dict(input_shape=(10, 10, 3)), "multiples of 4"),
    (dict(stackwise_num_filters=[16, 32, 32]), "twice"),
    (dict(include_preprocessing=False, preprocessing_mean=0.5), "preprocessing_mean=0.5"),
])
def test_bad_arguments_are_named(kwargs, message):
    arguments = dict(stackwise_num_blocks=[1, 1, 1], stackwise_num_filters=[16, 32, 64],
                     input_shape=(8, 8, 3))
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        models.ProcrustesResNet2018(**arguments)


# --- serialisation and scan -------------------------------------------------


def _stateless(model, x, training):
    """`model(x)` with no variable changed (training-mode batch norm on JAX)."""
    with keras.StatelessScope():
        return model(x, training=training)


def _weight_gradients(model, layer_name, x, y):
    """Gradients of the training-mode loss w.r.t. one layer's trainable weights."""
    variables = model.get_layer(layer_name).trainable_weights
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def loss(tensors):
        with keras.StatelessScope(state_mapping=list(zip(variables, tensors))):
            return loss_fn(y, model(x, training=True))

    gradients = autodiff.value_and_gradients(loss, [v.value for v in variables])[1]
    return np.concatenate([to_numpy(g).ravel() for g in gradients])


def _pair():
    """The unrolled and scanned 2018 forms, with the same (seeded) weights."""
    keras.utils.set_random_seed(0)
    unrolled = models.get("procresnet20_bottleneck_2018", scan=False, **TINY)
    scanned = models.get("procresnet20_bottleneck_2018", scan=True, **TINY)
    return unrolled, models.convert_weights(unrolled, scanned)


def test_scanned_and_unrolled_compute_the_same_outputs_and_gradients():
    unrolled, scanned = _pair()
    assert [l.name for l in scanned.layers if isinstance(l, layers.IdentityResidualStack)] == [
        "stage1_stack", "stage2_stack", "stage3_stack"]
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(8, 8, 8, 3)).astype("float32"), rng.integers(0, 3, 8)
    # float32 through training-mode batch norms: within 1e-4.
    close(scanned.predict(x, verbose=0), unrolled.predict(x, verbose=0), 1e-4)
    for training in (False, True):
        close(gradient(lambda t: _stateless(scanned, t, training) ** 2, x, compiled=True),
              gradient(lambda t: _stateless(unrolled, t, training) ** 2, x, compiled=True),
              1e-4)
    # The gradient norm ratios: every block and both transitions, alike.
    expected = diagnostics.gradient_norm_ratios(unrolled, x, y)
    actual = diagnostics.gradient_norm_ratios(scanned, x, y)
    assert list(actual) == list(expected) == [
        "stage1_block1", "stage1_block2", "transition1", "stage2_block1", "stage2_block2",
        "transition2", "stage3_block1", "stage3_block2"]
    for key in expected:
        assert np.isfinite(expected[key]) and actual[key] == pytest.approx(expected[key], rel=1e-4)
    assert "transition1" not in diagnostics.identity_block_names(scanned)
    # The stem's weights sit before every stage: their gradient passes every block.
    close(_weight_gradients(scanned, "stem_conv", x, y),
          _weight_gradients(unrolled, "stem_conv", x, y), 1e-4)


def test_scanned_model_round_trips_through_a_keras_file():
    _, scanned = _pair()
    x = np.random.default_rng(9).normal(size=(2, 8, 8, 3)).astype("float32")
    loaded = check_keras_file_round_trip(scanned, x, atol=1e-6)
    assert isinstance(loaded.get_layer("transition2"), layers.ParameterFreeTransition)
    assert isinstance(loaded.get_layer("predictions"), layers.OrthonormalDense)



# --- through the trainer --------------------------------------------------------


def _data_info(size):
    from keras_procrustes.data import DataInfo

    return DataInfo(name="arrays", classes=10, input_shape=[size, size, 1], train_examples=8,
                    test_examples=8, source="arrays", mean=[127.5], std=[127.5])


def test_the_trainer_keeps_the_2018_classifier_projected_at_every_step():
    # The 2020 recipe's projection probability (0.5, for the stem and the
    # transitions) must not reach the 2018 classifier, which projects at
    # every step, as the authors' code did.
    from keras_procrustes.training import TrainingConfig
    from keras_procrustes.training.build import build_model

    config = TrainingConfig(model="procresnet20_2018", projection_probability=0.5)
    model = build_model("procresnet20_2018", config, _data_info(16))
    assert model.get_layer("predictions").kernel.constraint.probability == 1.0
    baseline = build_model("procresnet22", config, _data_info(16))
    assert baseline.get_layer("transition1").kernel.constraint.probability == 0.5


def test_the_trainer_names_the_model_its_input_size_does_not_fit():
    from keras_procrustes.training import OptionError
    from keras_procrustes.training import TrainingConfig
    from keras_procrustes.training.build import build_model

    with pytest.raises(OptionError, match=r"model='procresnet20_2018'.*multiples of 4"):
        build_model("procresnet20_2018", TrainingConfig(model="procresnet20_2018"),
                    _data_info(30))


@pytest.mark.parametrize("recipe, nesterov", [("2020", False), ("2018", True)])
def test_the_recipe_option_sets_the_momentum_and_decays_every_parameter(recipe, nesterov):
    # The 2018 form's Torch code: SGD with Nesterov momentum 0.9, weight
    # decay on every parameter (batch norm and the classifier included).
    from keras_procrustes.training import TrainingConfig
    from keras_procrustes.training.build import prepare_model
    from keras_procrustes.training.job.distribute import Devices

    config = TrainingConfig(model="procresnet20_2018", recipe=recipe, epochs=2)
    config.check()
    model = prepare_model("procresnet20_2018", config, _data_info(16), Devices(None, 1), steps=3)
    optimizer = model.optimizer
    assert bool(optimizer.nesterov) is nesterov
    assert optimizer.momentum == pytest.approx(0.9)
    assert optimizer.weight_decay == pytest.approx(1e-4 / (1 - 0.9))
    # Keras decays a variable unless it is excluded: none is.
    decayed = [v for v in model.trainable_variables if optimizer._use_weight_decay(v)]
    assert len(decayed) == len(model.trainable_variables)
    assert any("gamma" in v.path for v in decayed)
    assert any("predictions" in v.path for v in decayed)


def test_an_unknown_recipe_is_named():
    from keras_procrustes.training import OptionError
    from keras_procrustes.training import TrainingConfig

    with pytest.raises(OptionError, match=r"recipe='2019'.*2020, 2018"):
        TrainingConfig(model="procresnet20_2018", recipe="2019").check()
