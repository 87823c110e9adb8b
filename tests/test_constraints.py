"""`ProcrustesProjection` as a Keras constraint."""

import json
import os
import re
import zipfile

import keras
import numpy as np
import pytest

from keras_procrustes.ops import autodiff
from keras_procrustes.ops import spectral
from keras_procrustes.constraints import ProcrustesProjection
from keras_procrustes.constraints import projection_draw


def test_direct_call_projects_to_default_target():
    kernel = np.random.default_rng(0).normal(size=(1, 1, 4, 8)).astype("float32")
    constraint = ProcrustesProjection((4, 4))
    values = np.asarray(spectral.conv_singular_values(constraint(kernel), (4, 4)))
    np.testing.assert_allclose(values, np.sqrt(2.0), atol=1e-5)


def test_target_and_target_scale():
    kernel = np.random.default_rng(1).normal(size=(1, 1, 4, 8)).astype("float32")
    scaled = ProcrustesProjection((4, 4), target_scale=0.5)(kernel)
    fixed = ProcrustesProjection((4, 4), target=3.0)(kernel)
    for projected, target in [(scaled, 0.5 * np.sqrt(2.0)), (fixed, 3.0)]:
        values = np.asarray(spectral.conv_singular_values(projected, (4, 4)))
        np.testing.assert_allclose(values, target, atol=1e-5)


def test_draw_projects_the_asked_fraction_of_steps():
    steps = keras.ops.arange(4096)
    for seed in (0, 7):
        draws = np.asarray(projection_draw(steps, seed))
        assert len(np.unique(draws)) == 4096  # every residue once
        for probability in (0.1, 0.5, 0.9):
            window = draws[:400] < probability
            assert abs(window.mean() - probability) < 0.01
    shifted = np.asarray(projection_draw(steps, 1))
    assert not np.array_equal(shifted, np.asarray(projection_draw(steps, 0)))


def _fit_conv(probability, steps=3):
    """A 1x1 conv under the constraint, trained `steps` SGD steps.

    A 1x1 projection is exact, so a projected kernel is a fixed point.

    Returns:
        `(layer, constraint)`.
    """
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8 * steps, 6, 6, 4)).astype("float32")
    y = rng.normal(size=(8 * steps, 6, 6, 8)).astype("float32")
    constraint = ProcrustesProjection((6, 6), probability=probability)
    conv = keras.layers.Conv2D(8, 1, use_bias=False, kernel_constraint=constraint)
    model = keras.Sequential([keras.Input((6, 6, 4)), conv])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return conv, constraint


def _distance_to_projection(conv, constraint):
    """Relative distance between the kernel and its projection."""
    kernel = keras.ops.convert_to_numpy(conv.kernel)
    again = keras.ops.convert_to_numpy(constraint.project(kernel))
    return np.linalg.norm(again - kernel) / np.linalg.norm(kernel)


def test_probability_one_projects_after_every_step():
    conv, constraint = _fit_conv(1.0)
    assert _distance_to_projection(conv, constraint) < 1e-5


def test_probability_zero_never_projects_in_fit():
    conv, constraint = _fit_conv(0.0)
    assert _distance_to_projection(conv, constraint) > 0.05


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5])
def test_half_probability_follows_the_step_draw(steps):
    conv, constraint = _fit_conv(0.5, steps=steps)
    last_step_projected = float(projection_draw(steps - 1, 0)) < 0.5
    projected = _distance_to_projection(conv, constraint) < 1e-5
    assert projected == last_step_projected


def test_config_round_trip():
    constraint = ProcrustesProjection(
        (8, 6), target_scale=0.9, probability=0.25, engine="newton_schulz",
        iterations=7, seed=3, conjugate_bug=True, alternations=3,
    )
    restored = keras.constraints.deserialize(keras.constraints.serialize(constraint))
    assert isinstance(restored, ProcrustesProjection)
    assert restored.get_config() == constraint.get_config()
    assert restored.spatial_shape == (8, 6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"probability": 1.5}, "probability=1.5"),
        ({"probability": None}, "probability=None"),
        ({"probability": "0.5"}, "probability='0.5'"),
        ({"seed": None}, "seed=None"),
        ({"seed": 1.5}, "seed=1.5"),
        ({"engine": "qr"}, "engine='qr'"),
        ({"iterations": 0}, "iterations=0"),
        ({"target": -1.0}, "target=-1.0"),
        ({"target_scale": 0}, "target_scale=0"),
        ({"spatial_shape": (0, 4)}, r"spatial_shape=\(0, 4\)"),
        ({"spatial_shape": (True,)}, r"spatial_shape=\(True,\)"),
        ({"spatial_shape": True}, "spatial_shape=True"),
        ({"iterations": True}, "iterations=True"),
        ({"alternations": 0}, "alternations=0"),
        ({"alternations": 2.0}, "alternations=2.0"),
        ({"iterations": 101}, "from 1 to 100. Received iterations=101"),
        ({"alternations": 1000}, "from 1 to 100. Received alternations=1000"),
    ],
)
def test_bad_options_name_the_value(kwargs, message):
    kwargs = {"spatial_shape": (8, 8), **kwargs}
    with pytest.raises(ValueError, match=message):
        ProcrustesProjection(**kwargs)


def _with_layer_config(path, saved, layer_name, **changes):
    """A copy of the `.keras` file `saved` whose layer `layer_name` has `changes` in its config."""
    with zipfile.ZipFile(saved) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    for layer in config["config"]["layers"]:
        if layer["config"]["name"] == layer_name:
            layer["config"].update(changes)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return str(path)


@pytest.mark.parametrize("layer_name, changes, first_line", [
    # 1e9 Newton-Schulz iterations loaded and then hung training.
    ("transition", {"engine": "newton_schulz", "iterations": 10**9},
     "`iterations` must be an int from 1 to 100. Received iterations=1000000000"),
    ("predictions", {"iterations": 500},
     "`iterations` must be an int from 1 to 100. Received iterations=500"),
    ("transition", {"probability": 2.0},
     "`probability` must be a number in [0, 1]. Received probability=2.0"),
])
def test_a_crafted_keras_file_names_the_bad_option_first(tmp_path, layer_name, changes, first_line):
    from keras_procrustes import layers

    inputs = keras.Input((4, 4, 2))
    x = layers.NormPreservingTransition(4, name="transition")(inputs)
    x = layers.OrthonormalDense(3, name="predictions")(keras.layers.Flatten()(x))
    saved = str(tmp_path / "model.keras")
    keras.Model(inputs, x).save(saved)
    crafted = _with_layer_config(tmp_path / "crafted.keras", saved, layer_name, **changes)
    with pytest.raises(ValueError) as error:
        keras.models.load_model(crafted, safe_mode=True)
    assert str(error.value).splitlines()[0] == first_line
    keras.models.load_model(saved, safe_mode=True)  # the file as saved loads


def test_a_crafted_constraint_config_is_refused():
    config = keras.constraints.serialize(ProcrustesProjection((8, 8), alternations=3))
    config["config"]["alternations"] = 1000
    with pytest.raises(ValueError, match="Received alternations=1000"):
        keras.constraints.deserialize(config)


def test_kernel_larger_than_fft_size_is_refused():
    with pytest.raises(ValueError, match=r"spatial_shape=\(2, 2\)"):
        ProcrustesProjection((2, 2))(np.ones((3, 3, 2, 2), "float32"))


@pytest.mark.parametrize("shape", [(8,), (1, 1, 1, 4, 8)])
def test_kernel_of_other_rank_is_refused(shape):
    with pytest.raises(ValueError, match=r"shape=\(" + ", ".join(map(str, shape))):
        ProcrustesProjection()(np.ones(shape, "float32"))


def test_spatial_shape_of_another_layer_kind_is_named():
    with pytest.raises(ValueError, match=r"Conv1D .*spatial_shape=\(8, 8\)"):
        ProcrustesProjection((8, 8))(np.ones((3, 4, 8), "float32"))
    with pytest.raises(ValueError, match=r"Conv2D .*spatial_shape=None"):
        ProcrustesProjection()(np.ones((3, 3, 4, 8), "float32"))


@pytest.mark.parametrize("spatial_shape", [(1, 2, 3), (4.0,), "8"])
def test_bad_spatial_shape_is_named(spatial_shape):
    with pytest.raises(ValueError, match="spatial_shape="):
        ProcrustesProjection(spatial_shape)


@pytest.mark.parametrize("spatial_shape", [None, 16, (16,), ()])
def test_config_round_trip_of_spatial_shapes(spatial_shape):
    constraint = ProcrustesProjection(spatial_shape)
    restored = keras.constraints.deserialize(keras.constraints.serialize(constraint))
    assert restored.spatial_shape == constraint.spatial_shape


def _input_gradient_norm_ratios(c_in, c_out, constraint, batch=32):
    """`||dL/dx|| / ||dL/dy||` per example, for random upstream gradients,
    through a 1x1 Conv2D `c_in -> c_out` whose kernel `constraint` set."""
    rng = np.random.default_rng(10)
    conv = keras.layers.Conv2D(c_out, 1, use_bias=False)
    conv.build((None, 4, 4, c_in))
    conv.kernel.assign(constraint(conv.kernel))
    x = keras.ops.convert_to_tensor(rng.normal(size=(batch, 4, 4, c_in)), "float32")
    upstream = rng.normal(size=(batch, 4, 4, c_out)).astype("float32")
    upstream_tensor = keras.ops.convert_to_tensor(upstream)

    def loss(tensors):
        return keras.ops.sum(conv(tensors[0]) * upstream_tensor)

    _, (grad_x,) = autodiff.value_and_gradients(loss, [x])
    grad_x = keras.ops.convert_to_numpy(grad_x).reshape(batch, -1)
    return np.linalg.norm(grad_x, axis=1) / np.linalg.norm(
        upstream.reshape(batch, -1), axis=1
    )


def test_contracting_default_target_keeps_every_gradient_norm():
    ratios = _input_gradient_norm_ratios(128, 64, ProcrustesProjection())
    np.testing.assert_allclose(ratios, 1.0, atol=1e-4)
    # The paper's sqrt(c_out / c_in) there would scale every gradient by it.
    old = _input_gradient_norm_ratios(
        128, 64, ProcrustesProjection(target=np.sqrt(64 / 128))
    )
    np.testing.assert_allclose(old, np.sqrt(0.5), atol=1e-4)


def test_expanding_default_target_keeps_gradient_norm_in_expectation():
    ratios = _input_gradient_norm_ratios(64, 128, ProcrustesProjection())
    assert abs(np.mean(ratios**2) - 1.0) < 0.03
    unit = _input_gradient_norm_ratios(64, 128, ProcrustesProjection(target=1.0))
    assert abs(np.mean(unit**2) - 0.5) < 0.02


def test_dense_and_conv1d_layers_train_under_the_constraint():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(32, 10, 4)).astype("float32")
    y = rng.normal(size=(32, 8)).astype("float32")
    conv = keras.layers.Conv1D(
        8, 3, padding="same", use_bias=False,
        kernel_initializer=keras.initializers.GlorotNormal(seed=0),
        kernel_constraint=ProcrustesProjection((10,), probability=1.0),
    )
    dense = keras.layers.Dense(
        8, kernel_constraint=ProcrustesProjection(probability=1.0)
    )
    model = keras.Sequential(
        [keras.Input((10, 4)), conv, keras.layers.GlobalAveragePooling1D(), dense]
    )
    model.compile(keras.optimizers.SGD(0.01), "mse")

    def conv_log_deviation():
        values = keras.ops.convert_to_numpy(spectral.conv_singular_values(conv.kernel, (10,)))
        return np.abs(np.log(values / np.sqrt(2.0))).max()  # 4 -> 8

    initial = conv_log_deviation()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    values = np.linalg.svd(keras.ops.convert_to_numpy(dense.kernel), compute_uv=False)
    np.testing.assert_allclose(values, 1.0, atol=1e-5)  # 8 -> 8: target 1
    # A 3-tap kernel's projection is approximate; 4 steps bring it close
    # (0.065 of the initial deviation on TensorFlow, 0.135 on JAX).
    assert conv_log_deviation() < 0.2 * initial


@pytest.mark.parametrize("shape", [(4, 8), (3, 4, 8), (3, 3, 4, 8)])
@pytest.mark.parametrize("bad, counts", [(np.nan, "1 NaN and 0 inf"), (np.inf, "0 NaN and 1 inf")])
def test_direct_call_on_non_finite_kernel_names_it(shape, bad, counts):
    kernel = np.ones(shape, "float32")
    kernel.flat[5] = bad
    constraint = ProcrustesProjection((6,) * (len(shape) - 2))
    with pytest.raises(ValueError, match=counts):
        constraint(kernel)
    with pytest.raises(ValueError, match=counts):
        constraint.project(kernel)


def _dense_kernel(kernel, constraint):
    dense = keras.layers.Dense(
        kernel.shape[1], use_bias=False, kernel_constraint=constraint
    )
    dense.build((None, kernel.shape[0]))
    dense.kernel.assign(kernel)
    return dense.kernel


def _apply_zero_gradients(variable, traced):
    """One SGD step with zero gradients, so only the constraint acts."""
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build([variable])
    grads = [keras.ops.zeros(variable.shape)]
    if not traced:
        optimizer.apply(grads, [variable])
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.function(lambda: optimizer.apply(grads, [variable]))()
    else:
        import jax

        step = jax.jit(optimizer.stateless_apply)
        (new_value,), _ = step(
            [v.value for v in optimizer.variables], grads, [variable.value]
        )
        variable.assign(new_value)


@pytest.mark.parametrize("traced", [False, True])
def test_optimizer_step_leaves_non_finite_kernel_as_it_is(traced):
    if traced and keras.backend.backend() == "torch":
        pytest.skip("Keras runs torch eagerly (no traced optimizer step)")
    kernel = np.random.default_rng(12).normal(size=(4, 8)).astype("float32")
    constraint = ProcrustesProjection(probability=1.0)
    finite = _dense_kernel(kernel, constraint)
    _apply_zero_gradients(finite, traced)  # a finite kernel is projected
    u, _, vh = np.linalg.svd(kernel, full_matrices=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(finite), np.sqrt(2.0) * u @ vh, atol=1e-5)
    kernel[1, 2], kernel[3, 0] = np.nan, np.inf
    broken = _dense_kernel(kernel, constraint)
    _apply_zero_gradients(broken, traced)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(broken), kernel)  # NaN == NaN here


def test_dense_and_conv1d_constraints_round_trip_through_keras_file(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((10, 4)),
            keras.layers.Conv1D(
                8, 3, kernel_constraint=ProcrustesProjection((10,), seed=2)
            ),
            keras.layers.Flatten(),
            keras.layers.Dense(
                5, kernel_constraint=ProcrustesProjection(target_scale=0.5)
            ),
        ]
    )
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    x = np.random.default_rng(13).normal(size=(2, 10, 4)).astype("float32")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    for index in (0, 2):
        original = model.layers[index].kernel.constraint
        loaded = restored.layers[index].kernel.constraint
        assert isinstance(loaded, ProcrustesProjection)
        assert loaded.get_config() == original.get_config()
    assert restored.layers[0].kernel.constraint.spatial_shape == (10,)
    assert restored.layers[2].kernel.constraint.spatial_shape is None


@pytest.mark.parametrize("arguments", [
    {"target": float("nan")}, {"target": float("inf")}, {"target": True}, {"target": -1.0},
    {"target_scale": float("nan")}, {"target_scale": float("inf")}, {"target_scale": 0.0},
])
def test_a_target_that_is_not_a_finite_positive_number_is_refused(arguments):
    # NaN passes a `<= 0` check and would project every kernel to NaN.
    name = next(iter(arguments))
    with pytest.raises(ValueError, match=f"`{name}` must be a finite positive number"):
        ProcrustesProjection((8, 8), **arguments)


def _fold(values, n, axis):
    """Adds every index `i` of `axis` into index `i % n` (circular wrap)."""
    folded = np.zeros(values.shape[:axis] + (n,) + values.shape[axis + 1:])
    for i in range(values.shape[axis]):
        index = [slice(None)] * values.ndim
        index[axis] = i
        target = list(index)
        target[axis] = i % n
        folded[tuple(target)] += values[tuple(index)]
    return folded


def _layer_operator(layer, n, c_in):
    """The dense matrix of a 1-D or 2-D `layer` (stride 1, padding "valid")
    over circular inputs of size n (n x n), read off the layer's own outputs
    for a basis.

    A convolution sees the input wrapped around; a transposed convolution's
    `n + k - 1` outputs are wrapped back onto `n`.
    """
    dims = len(layer.kernel_size)
    basis = np.eye(n**dims * c_in, dtype="float32").reshape((-1,) + (n,) * dims + (c_in,))
    k = layer.kernel_size[0]
    if isinstance(layer, (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose)):
        out = keras.ops.convert_to_numpy(layer(basis))
        for axis in range(1, dims + 1):
            out = _fold(out, n, axis)
    else:
        padding = ((0, 0),) + ((0, k - 1),) * dims + ((0, 0),)
        out = keras.ops.convert_to_numpy(layer(np.pad(basis, padding, mode="wrap")))
    return out.reshape(len(basis), -1).T


_OTHER_OPERATORS = {
    # name: (layer from its constraint, dims, c_in, target, rank per frequency)
    "depthwise": (lambda c: keras.layers.DepthwiseConv2D(
        3, depth_multiplier=3, use_bias=False, depthwise_constraint=c), 2, 2, np.sqrt(3.0), 2),
    "depthwise_1d": (lambda c: keras.layers.DepthwiseConv1D(
        3, depth_multiplier=3, use_bias=False, depthwise_constraint=c), 1, 2, np.sqrt(3.0), 2),
    "transposed_contracting": (lambda c: keras.layers.Conv2DTranspose(
        2, 3, use_bias=False, kernel_constraint=c), 2, 4, 1.0, 2),
    "transposed_expanding": (lambda c: keras.layers.Conv2DTranspose(
        4, 3, use_bias=False, kernel_constraint=c), 2, 2, np.sqrt(2.0), 2),
    "transposed_1d_contracting": (lambda c: keras.layers.Conv1DTranspose(
        2, 3, use_bias=False, kernel_constraint=c), 1, 4, 1.0, 2),
    "transposed_1d_expanding": (lambda c: keras.layers.Conv1DTranspose(
        4, 3, use_bias=False, kernel_constraint=c), 1, 2, np.sqrt(2.0), 2),
}


@pytest.mark.parametrize("name", sorted(_OTHER_OPERATORS))
def test_depthwise_and_transposed_kernels_project_their_own_operator(name):
    # With the FFT size equal to the size-3 support the projection is exact, so
    # every nonzero singular value of the layer's operator (numpy's SVD of the
    # matrix read off the layer) is the target.
    make, dims, c_in, target, rank = _OTHER_OPERATORS[name]
    operator = name.split("_")[0]
    layer = make(ProcrustesProjection((3,) * dims, probability=1.0, operator=operator))
    model = keras.Sequential([keras.Input((3,) * dims + (c_in,)), layer])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x = np.random.default_rng(14).normal(size=(4,) + (3,) * dims + (c_in,)).astype("float32")
    model.train_on_batch(x, np.zeros_like(model.predict(x, verbose=0)))
    values = np.linalg.svd(_layer_operator(layer, 3, c_in), compute_uv=False)
    assert values[0] > 0.5 * target  # the operator was read off the layer
    np.testing.assert_allclose(values[: 3**dims * rank], target, atol=1e-4)
    np.testing.assert_allclose(values[3**dims * rank:], 0.0, atol=1e-4)


@pytest.mark.parametrize("make, told", [
    (lambda c: keras.layers.DepthwiseConv2D(3, depthwise_constraint=c), "depthwise"),
    (lambda c: keras.layers.SeparableConv2D(4, 3, depthwise_constraint=c), "depthwise"),
    (lambda c: keras.layers.Conv2DTranspose(4, 3, kernel_constraint=c), "transposed"),
])
def test_depthwise_or_transposed_kernel_without_its_operator_is_refused(make, told):
    layer = make(ProcrustesProjection((5, 5), probability=1.0))
    model = keras.Sequential([keras.Input((5, 5, 2)), layer])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    kernel = next(w for w in layer.weights if w.constraint is not None)
    message = re.escape(f"operator='{told}'). Received operator='convolution'")
    with pytest.raises(ValueError, match=message):
        kernel.constraint(kernel)
    x = np.zeros((2, 5, 5, 2), "float32")
    with pytest.raises(ValueError, match=f"operator='{told}'"):
        model.train_on_batch(x, model.predict(x, verbose=0))
