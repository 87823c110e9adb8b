"""Gradient norm ratios and operator spectra."""

import copy
import csv

import keras
import numpy as np
import numpy_reference
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harness import batch
from keras_procrustes import diagnostics
from keras_procrustes import layers
from keras_procrustes import models
from keras_procrustes.training.callbacks import norm_preservation_monitor


def _chain_model():
    """stem -> block -> transition -> block -> head, as a list and a model."""
    chain = [
        layers.NormPreservingTransition(16, 3, strides=1, name="stem"),
        layers.IdentityResidualBlock(4, name="block1"),
        layers.NormPreservingTransition(32, name="transition"),
        layers.IdentityResidualBlock(8, name="block2"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ]
    inputs = keras.Input((8, 8, 3))
    x = inputs
    for layer in chain:
        x = layer(x)
    return chain, keras.Model(inputs, x)


def _ratios_by_hand(chain, x, y):
    """The same ratios with the backend's autodiff on explicit activations."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    measured = [l for l in chain if isinstance(l, (layers.IdentityResidualBlock, layers.NormPreservingTransition))]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(persistent=True) as tape:
            activations = [tf.constant(x)]
            tape.watch(activations[0])
            for layer in chain:
                activations.append(layer(activations[-1], training=True))
            loss = loss_fn(y, activations[-1])
        grads = [tape.gradient(loss, a) for a in activations[:-1]]
    elif keras.backend.backend() == "torch":
        activations = [keras.ops.convert_to_tensor(x).requires_grad_()]
        for layer in chain:
            hidden = layer(activations[-1], training=True)
            hidden.retain_grad()  # the gradient w.r.t. each activation
            activations.append(hidden)
        loss_fn(keras.ops.convert_to_tensor(y), activations[-1]).backward()
        grads = [a.grad for a in activations[:-1]]
    else:
        import jax

        activations = [keras.ops.convert_to_tensor(x)]
        with keras.StatelessScope():
            for layer in chain:
                activations.append(layer(activations[-1], training=True))

        def tail(a, start):
            with keras.StatelessScope():
                for layer in chain[start:]:
                    a = layer(a, training=True)
                return loss_fn(y, a)

        grads = [jax.grad(tail)(a, i) for i, a in enumerate(activations[:-1])]
    norms = [float(np.linalg.norm(keras.ops.convert_to_numpy(g))) for g in grads]
    return {l.name: norms[chain.index(l)] / norms[chain.index(l) + 1] for l in measured}


def test_ratios_match_autodiff_by_hand():
    chain, model = _chain_model()
    x, y = batch()
    got = diagnostics.gradient_norm_ratios(model, x, y)
    expected = _ratios_by_hand(chain, x, y)
    assert list(got) == ["stem", "block1", "transition", "block2"]
    for name in expected:
        assert got[name] == pytest.approx(expected[name], rel=1e-4)


@pytest.mark.parametrize("bad", [3, -1, 1.5])
@pytest.mark.parametrize("loss", [None, keras.losses.SparseCategoricalCrossentropy()])
def test_a_label_that_is_no_class_is_named(bad, loss):
    # JAX's cross-entropy returned NaN ratios for out-of-range labels.
    _, model = _chain_model()
    x, y = batch()
    y = y.astype("float32")
    y[4] = bad
    with pytest.raises(ValueError, match=rf"\[0, 3\).*Received y\[4\]={bad}"):
        diagnostics.gradient_norm_ratios(model, x, y, loss=loss)
    ignoring = keras.losses.SparseCategoricalCrossentropy(ignore_class=-1)
    y[4] = -1  # the loss's ignored class is allowed
    assert len(diagnostics.gradient_norm_ratios(model, x, y, loss=ignoring)) == 4


def test_measurement_changes_no_variable():
    _, model = _chain_model()
    before = [np.array(keras.ops.convert_to_numpy(v)) for v in model.variables]
    diagnostics.gradient_norm_ratios(model, *batch())
    after = [keras.ops.convert_to_numpy(v) for v in model.variables]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def _measure(which, model, x):
    if which == "signal":
        return diagnostics.signal_propagation(model, x)
    return diagnostics.gradient_norm_ratios(model, x, np.zeros(len(x), "int32"))


@pytest.mark.parametrize("which", ["signal", "ratios"])
@pytest.mark.parametrize("shape, words", [
    ((2, 10, 10, 3), r"shape \(None, 8, 8, 3\).*Received x.shape=\(2, 10, 10, 3\)"),
    ((2, 8, 8, 1), r"shape \(None, 8, 8, 3\).*Received x.shape=\(2, 8, 8, 1\)"),
    ((0, 8, 8, 3), r"empty batch.*\(8, 8, 3\).*Received x.shape=\(0, 8, 8, 3\)"),
], ids=["size", "channels", "empty"])
def test_a_batch_that_does_not_fit_the_input_is_refused(which, shape, words):
    _, model = _chain_model()
    with pytest.raises(ValueError, match=words):
        _measure(which, model, np.zeros(shape, "float32"))


@pytest.mark.parametrize("which", ["signal", "ratios"])
def test_uint8_images_are_measured_as_their_float_values(which):
    _, model = _chain_model()
    images = np.random.default_rng(1).integers(0, 3, (4, 8, 8, 3)).astype("uint8")
    as_uint8 = _measure(which, model, images)
    as_float = _measure(which, model, images.astype("float32"))
    assert as_uint8 == as_float and len(as_uint8) == 4
    assert all(np.isfinite(value).all() for value in as_uint8.values())


def test_zeroed_residual_branch_gives_ratio_one():
    chain, model = _chain_model()
    for block in (chain[1], chain[3]):
        conv = block.convs[-1]
        conv.kernel.assign(np.zeros(conv.kernel.shape, "float32"))
    ratios = diagnostics.gradient_norm_ratios(model, *batch())
    assert ratios["block1"] == 1.0 and ratios["block2"] == 1.0
    assert ratios["transition"] != pytest.approx(1.0, abs=1e-3)


def _transition_ratio(project):
    transition = layers.NormPreservingTransition(128, name="transition")
    inputs = keras.Input((16, 16, 64))
    model = keras.Model(inputs, transition(inputs))
    if project:
        transition.kernel.assign(transition.projection.project(transition.kernel))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 16, 16, 64)).astype("float32")
    upstream = rng.normal(size=(8, 8, 8, 128)).astype("float32")  # isotropic dL/dy

    def linear_loss(y_true, y_pred):
        return keras.ops.sum(y_true * y_pred)

    return diagnostics.gradient_norm_ratios(model, x, upstream, loss=linear_loss)["transition"]


def test_projected_transition_preserves_isotropic_gradient_norm():
    assert _transition_ratio(project=True) == pytest.approx(1.0, abs=0.02)
    # He-initialised and unprojected, it amplifies by about sqrt(2).
    assert _transition_ratio(project=False) == pytest.approx(np.sqrt(2), abs=0.1)


def test_blocks_inside_a_nested_backbone_are_measured():
    # A backbone (blocks unrolled and one scanned stack) used as a layer of
    # another model: the same ratios as on the backbone itself.
    backbone = models.resnet(11, "bottleneck", include_top=False, input_shape=(8, 8, 3),
                             scan=False, include_preprocessing=False)  # unrolled blocks, ...
    stack = layers.IdentityResidualStack(2, 64, name="extra_stack")
    features = stack(backbone.output)  # ... and a scanned stack
    backbone = keras.Model(backbone.inputs, features, name="backbone")
    inputs = keras.Input((8, 8, 3))
    wrapper = keras.Model(inputs, backbone(inputs), name="wrapper")
    x, _ = batch(4)
    upstream = np.random.default_rng(2).normal(size=(4, 2, 2, 256)).astype("float32")

    def linear_loss(y_true, y_pred):
        return keras.ops.sum(y_true * y_pred)

    direct = diagnostics.gradient_norm_ratios(backbone, x, upstream, loss=linear_loss)
    nested = diagnostics.gradient_norm_ratios(wrapper, x, upstream, loss=linear_loss)
    assert list(nested) == list(direct)
    assert list(direct)[:3] == ["stem_conv", "stage1_block1", "transition1"]
    assert list(direct)[-2:] == ["extra_stack_block1", "extra_stack_block2"]
    for name in direct:
        assert nested[name] == pytest.approx(direct[name], rel=1e-5)
    assert diagnostics.identity_block_names(wrapper) == diagnostics.identity_block_names(backbone)
    copies = [keras.Model(backbone.inputs, backbone.output, name=n)(inputs) for n in "ab"]
    twice = keras.Model(inputs, keras.layers.Add()(copies))  # the same blocks twice
    with pytest.raises(ValueError, match="several measured layers named.*'stem_conv'"):
        diagnostics.gradient_norm_ratios(twice, x, upstream, loss=linear_loss)


def test_operator_singular_values_of_a_transition():
    model = models.resnet(11, "bottleneck", input_shape=(8, 8, 3), classes=3)
    layer = model.get_layer("stem_conv")
    values = diagnostics.operator_singular_values(layer)
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    expected = numpy_reference.operator_singular_values(kernel, 8, 8)  # SVD of the dense operator
    np.testing.assert_allclose(keras.ops.convert_to_numpy(values), expected, rtol=1e-4, atol=1e-5)
    plain = models.resnet(11, "bottleneck", procrustes=False, input_shape=(8, 8, 3), classes=3)
    assert tuple(diagnostics.operator_singular_values(plain.get_layer("stem_conv")).shape) == (8 * 8 * 3,)
    with pytest.raises(ValueError, match="IdentityResidualBlock 'stage1_block1'"):
        diagnostics.operator_singular_values(model.get_layer("stage1_block1"))


def test_model_without_blocks_is_refused():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no IdentityResidualBlock"):
        diagnostics.gradient_norm_ratios(model, np.zeros((1, 4)), np.zeros((1,)))


def test_monitor_logs_ratios_to_history_csv_and_tensorboard(tmp_path):
    _, model = _chain_model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = batch(16)
    monitor = norm_preservation_monitor.NormPreservationMonitor(x[:8], y[:8], every=1, log_dir=str(tmp_path / "tb"))
    monitor = copy.deepcopy(monitor)  # keras-tuner copies callbacks
    csv_path = str(tmp_path / "history.csv")
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0,
                        callbacks=[monitor, keras.callbacks.CSVLogger(csv_path)])
    for name in ("stem", "block1", "transition", "block2"):
        assert len(history.history[f"grad_norm_ratio/{name}"]) == 2
    assert sorted(monitor.history) == [0, 1, 2]
    with open(csv_path) as handle:
        columns = next(csv.reader(handle))
    assert "grad_norm_ratio/transition" in columns and "grad_norm_ratio_max_log_deviation" in columns
    copy.deepcopy(monitor)  # and after training too
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert {"grad_norm_ratio", "log_grad_norm_ratio", "grad_norm_ratio_profile"} <= set(
        events.Tags()["tensors"])
    # At the steps of Keras' epoch scalars (the epoch index); the measurement
    # before training stays in `history`.
    assert [e.step for e in events.Tensors("grad_norm_ratio")] == [0, 1]
    assert [e.step for e in events.Tensors("grad_norm_ratio_profile")] == [0, 1]


def test_monitor_can_keep_per_block_keys_out_of_logs():
    _, model = _chain_model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = batch(8)
    monitor = norm_preservation_monitor.NormPreservationMonitor(x, y, log_each_block=False)
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[monitor])
    assert [k for k in history.history if k.startswith("grad_norm_ratio")] == [
        "grad_norm_ratio_max_log_deviation"]


def test_monitor_every_n_epochs():
    _, model = _chain_model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = batch(8)
    monitor = norm_preservation_monitor.NormPreservationMonitor(x, y, every=2, at_start=False)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[monitor])
    assert sorted(monitor.history) == [2]
    with pytest.raises(ValueError, match="every=0"):
        norm_preservation_monitor.NormPreservationMonitor(x, y, every=0)


def test_monitor_measures_any_model_with_signal_and_operator_norms(tmp_path):
    inputs = keras.Input((8, 8, 3))
    stem = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="stem")(inputs)
    branch = keras.layers.Conv2D(4, 3, padding="same", name="conv")(keras.layers.ReLU()(stem))
    merged = keras.layers.Add(name="block")([stem, branch])
    outputs = keras.layers.Dense(3, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(merged))
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = batch(8)
    monitor = norm_preservation_monitor.NormPreservationMonitor(
        x, y, log_dir=str(tmp_path / "tb"), signal_propagation=True,
        operator_norm_layers=["stem"])
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[monitor])
    for key in ("grad_norm_ratio/block", "signal_mean_squared/block",
                "signal_variance/block", "operator_norm/stem"):
        assert len(history.history[key]) == 2, key
    assert sorted(monitor.operator_norm_history) == [0, 1, 2]
    assert history.history["operator_norm/stem"][-1] == monitor.operator_norm_history[2]["stem"]
    copy.deepcopy(monitor)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    for tag in ("operator_norm/stem", "signal_variance/block"):
        assert [e.step for e in events.Tensors(tag)] == [0, 1]
    with pytest.raises(ValueError, match="name='nope'"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[
            norm_preservation_monitor.NormPreservationMonitor(x, y, operator_norm_layers=["nope"])])


def test_a_measurement_kept_on_the_model_sees_new_weights_and_trainable():
    # Both measurements keep their (on JAX compiled) function on the model.
    # Each later call must measure as a fresh copy of the model with the
    # same weights and the same `trainable` flags, which has none kept.
    model = models.resnet(8, "basic", input_shape=(8, 8, 3), classes=3)
    x, y = batch(6)

    def both(measured):
        return (diagnostics.gradient_norm_ratios(measured, x, y),
                {k: tuple(v) for k, v in diagnostics.signal_propagation(measured, x).items()})

    def fresh_copy():
        copied = keras.models.clone_model(model)
        copied.set_weights(model.get_weights())
        for layer, twin in zip(model._flatten_layers(), copied._flatten_layers()):
            twin.trainable = layer.trainable
        return copied

    def same(found, expected):
        for got, want in zip(found, expected):
            assert list(got) == list(want)
            for name in want:
                assert got[name] == pytest.approx(want[name], rel=1e-5), name

    before = both(model)
    kernel = model.get_layer("stage1_block1").weights[0]
    noise = np.random.default_rng(1).normal(size=kernel.shape).astype("float32")
    kernel.assign(keras.ops.convert_to_numpy(kernel) + noise)  # changed between two calls
    after_weights = both(model)
    same(after_weights, both(fresh_copy()))
    assert after_weights[0] != pytest.approx(before[0], rel=1e-3)
    for layer in model._flatten_layers():  # batch norm runs in inference mode now
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    after_trainable = both(model)
    same(after_trainable, both(fresh_copy()))
    assert after_trainable[1] != pytest.approx(after_weights[1], rel=1e-3)
