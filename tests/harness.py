"""The tests' shared harness: one check per layer, one per preset, and small helpers.

In the manner of keras-hub's `TestCase` (`run_layer_test`,
`run_preset_test`): `run_layer_test` takes a layer class with its
arguments and checks what every layer of the package must do (its config
and serialization round trips, its symbolic and eager shapes, one fit step,
a mixed-precision policy); `run_preset_test` takes a name of
`models.list_models()` and checks its parameter count, its `.keras` round
trip and its pyramid outputs. `tests/test_layers.py` and
`tests/test_presets.py` run them over every layer and every preset.
"""

import json
import os
import re
import tempfile

import keras
import numpy as np

from keras_procrustes import models

PRECISION = "mixed_bfloat16"  # variables float32, compute bfloat16 (every backend on CPU)


def to_numpy(tensor):
    """A tensor (or array) as a float64 numpy array."""
    return np.asarray(keras.ops.convert_to_numpy(tensor), "float64")


def trainable_count(model):
    """The number of trainable parameters of a model or layer."""
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def close(actual, expected, tolerance=1e-5):
    """Asserts a max abs difference within `tolerance` of the expected's scale (at least 1)."""
    actual, expected = to_numpy(actual), to_numpy(expected)
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(actual - expected).max() <= tolerance * scale, (
        f"differ by {np.abs(actual - expected).max():.3g}, allowed {tolerance * scale:.3g}")


def batch(count=6, size=8, classes=3, seed=0):
    """`count` random normal images `size x size x 3` (float32) and integer labels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, size, size, 3)).astype("float32")
    return x, rng.integers(0, classes, count)


def gradient(fn, x, compiled=False):
    """d sum(fn(x)) / dx by the backend's own autodiff (not the package's), as numpy.

    Args:
        fn: a function of one tensor, made of `keras.ops` (a model or layer
            call too; on JAX it runs in a `keras.StatelessScope`).
        x: the point, an array or tensor.
        compiled: on JAX, compile `fn` and its gradient as one program
            (`jax.jit`) instead of running them op by op, which compiles every
            new primitive and shape on its first call (tests/test_form2018.py's
            scanned-against-unrolled check: 46 s op by op, 26 s compiled, on 2
            cores). Only for comparisons of two gradients taken the same way:
            a compiled reference is not the eager one (ResNet50V2's tail with
            batch norm over 8 images, seed 1: 2e-3 apart, where the package's
            ratios are 2e-6 from the eager reference). Ignored elsewhere.

    Returns:
        The gradient, a float64 numpy array of `x`'s shape.
    """
    x = keras.ops.convert_to_tensor(x)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            total = keras.ops.sum(fn(x))
        return to_numpy(tape.gradient(total, x))
    if backend == "torch":
        x = x.detach().requires_grad_()
        keras.ops.sum(fn(x)).backward()
        return to_numpy(x.grad)
    import jax

    def stateless(value):
        with keras.StatelessScope():
            return keras.ops.sum(fn(value))

    grad = jax.grad(stateless)
    return to_numpy((jax.jit(grad) if compiled else grad)(x))


def error_line(output, command, also_absent=()):
    """The one `{command}: error:` line of a process's output that ended in a user error.

    Args:
        output: the process's output (stdout and stderr) or log text.
        command: the command's name, e.g. `keras-procrustes-train`.
        also_absent: more strings that must not occur (e.g. `Check failure`).

    Returns:
        That line.
    """
    for absent in ("Traceback", *also_absent):
        assert absent not in output, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith(f"{command}: error:")]
    assert len(errors) == 1, output[-3000:]
    return errors[0]


# --- run_layer_test -------------------------------------------------------------------------


def _json(value):
    """A config value as a `.keras` file's JSON holds it (tuples become lists)."""
    return json.loads(json.dumps(keras.saving.serialize_keras_object(value)))


def check_config_round_trip(layer, init_kwargs):
    """Every argument is in `get_config`; `from_config` and Keras' serialization give it back."""
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert key in config, f"{type(layer).__name__}.get_config() drops {key!r}"
        assert _json(config[key]) == _json(value), (
            f"{type(layer).__name__}.get_config()[{key!r}] is {config[key]!r}, given {value!r}")
    assert _json(type(layer).from_config(config).get_config()) == _json(config)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is type(layer)
    assert _json(revived.get_config()) == _json(config)


def check_keras_file_round_trip(model, x, atol=1e-5):
    """Saves `model` as `.keras`, loads it (safe mode) and compares it.

    Layer classes and configs, weights, weight constraints and predictions
    must be equal.

    Returns:
        The loaded model.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    assert loaded.name == model.name
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    for original, restored in zip(model.layers, loaded.layers):
        assert _json(restored.get_config()) == _json(original.get_config()), original.name
    for original, restored in zip(model.weights, loaded.weights):
        assert restored.path == original.path
        np.testing.assert_array_equal(to_numpy(restored), to_numpy(original), err_msg=original.path)
        constraints = [getattr(w, "constraint", None) for w in (original, restored)]
        assert _json(constraints[1]) == _json(constraints[0]), original.path
    # Eager calls, not `predict`: no function to trace and compile twice.
    expected = keras.tree.flatten(model(x, training=False))
    for actual, wanted in zip(keras.tree.flatten(loaded(x, training=False)), expected):
        np.testing.assert_allclose(to_numpy(actual), to_numpy(wanted), atol=atol)
    return loaded


def _fit_one_step(layer_cls, init_kwargs, x):
    """A `Dense` on the last axis, then the layer, one SGD step on an MSE: every weight moves."""
    inputs = keras.Input(x.shape[1:])
    front = keras.layers.Dense(x.shape[-1], name="front")
    outputs = layer_cls(**init_kwargs)(front(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.1), "mse")
    before = [to_numpy(w) for w in model.trainable_weights]
    target = np.ones((len(x), *outputs.shape[1:]), "float32")
    history = model.fit(x, target, batch_size=len(x), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for weight, old in zip(model.trainable_weights, before):
        new = to_numpy(weight)
        assert np.isfinite(new).all(), weight.path
        assert not np.array_equal(new, old), f"{weight.path} did not move in one fit step"


def _check_precision(layer_cls, init_kwargs, x, reference):
    """Under `PRECISION`: float32 variables, bfloat16 outputs near the float32 layer's."""
    layer = layer_cls(**init_kwargs, dtype=PRECISION)
    layer.build(x.shape)
    layer.set_weights(reference.get_weights())
    outputs = layer(x)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    assert {keras.backend.standardize_dtype(w.dtype) for w in layer.weights} <= {"float32"}
    close(outputs, reference(x), tolerance=0.05)


def run_layer_test(layer_cls, init_kwargs, input_shape, expected_output_shape,
                   run_training_check=True, run_precision_check=True):
    """Checks one layer of the package as every layer must work.

    The checks: every argument in `get_config`, `from_config` and Keras'
    serialization give the same config back; the symbolic output and
    `compute_output_shape` have `expected_output_shape`; an eager call on
    a batch of 2 has it too; a model of the layer round trips through a
    `.keras` file; one fit step moves every trainable weight (the layer's
    and a `Dense` before it, so gradients must pass the layer); under a
    `mixed_bfloat16` policy the variables stay float32 and the outputs are
    bfloat16, near the float32 layer's.

    Args:
        layer_cls: the layer class.
        init_kwargs: its arguments.
        input_shape: the input's shape, batch axis `None`.
        expected_output_shape: the output's shape, batch axis `None`.
        run_training_check: whether to run the fit step.
        run_precision_check: whether to run the mixed-precision check.
    """
    layer = layer_cls(**init_kwargs)
    check_config_round_trip(layer, init_kwargs)
    inputs = keras.Input(input_shape[1:])
    outputs = layer(inputs)
    assert tuple(outputs.shape) == tuple(expected_output_shape)
    assert tuple(layer.compute_output_shape(tuple(input_shape))) == tuple(expected_output_shape)
    x = np.random.default_rng(0).normal(size=(2, *input_shape[1:])).astype("float32")
    eager = layer_cls(**init_kwargs)
    assert tuple(eager(x).shape) == (2, *expected_output_shape[1:])
    check_config_round_trip(layer, init_kwargs)  # built, too
    check_keras_file_round_trip(keras.Model(inputs, outputs), x)
    if run_training_check:
        _fit_one_step(layer_cls, init_kwargs, x)
    if run_precision_check:
        _check_precision(layer_cls, init_kwargs, x, eager)


# --- run_preset_test ------------------------------------------------------------------------

DEEP = 164  # presets of this depth or more are marked slow (`deep`): CI leaves them out
PRESET_INPUT_SHAPE = (8, 8, 3)


def is_deep(name):
    """Whether a preset's name says `DEEP` or more layers (`procresnet166`, `resnet164`)."""
    return int(re.search(r"[0-9]+", name).group()) >= DEEP


def run_preset_test(name, classes=10, input_shape=PRESET_INPUT_SHAPE):
    """Checks one preset of `models.list_models()`.

    Builds it with `models.get` for small images (the counts do not depend
    on their size; a transition's projection is cheaper on a small one):
    its trainable parameters must be the table's count; its pyramid
    outputs (`P0`, `P1`, `P2`) must halve the resolution and double the
    channels from stage to stage, the logits must be `classes` wide; and
    its `.keras` file must load with the same layers, weights, constraints,
    pyramid outputs and logits.

    Args:
        name: a preset's name.
        classes: the classes to build it for (a count the table holds).
        input_shape: the images' shape.

    Returns:
        The built model.
    """
    model = models.get(name, classes=classes, input_shape=input_shape)
    assert model.name == name
    assert trainable_count(model) == models.PRESETS[name]["parameters"][classes]
    pyramid = models.pyramid_outputs(model)
    assert list(pyramid) == ["P0", "P1", "P2"]
    size, channels = model.input_shape[1], pyramid["P0"].shape[-1]
    for level, tensor in enumerate(pyramid.values()):
        side = size // 2**level
        assert tuple(tensor.shape) == (None, side, side, channels * 2**level), (level, tensor.shape)
    assert model.output_shape == (None, classes)
    with_features = keras.Model(model.input, {**pyramid, "predictions": model.output}, name=name)
    pixels = np.random.default_rng(0).integers(0, 256, (2, *model.input_shape[1:]))
    check_keras_file_round_trip(with_features, pixels.astype("float32"))
    return model
