"""`model.export` in the formats Keras offers on each backend, run in their runtimes.

Each case exports with Keras' own `model.export(path, format=...)`, loads
the artefact where users deploy it (TensorFlow's SavedModel loader, the
LiteRT interpreter, onnxruntime) and compares its outputs on raw pixels
with the Keras model's, relative to their largest magnitude.

The models are small (two stages of two bottleneck blocks, 16x16 inputs)
but hold every layer and op of the full presets: the `PixelNormalization`
input layer, the projected stem and transition, unrolled
`IdentityResidualBlock`s or an `IdentityResidualStack` per stage (the form
every preset with 12 or more blocks a stage takes), and the BN-ReLU-pool-
dense head. Depth only repeats blocks, and the stack's loop is the same
for 2 blocks as for 111.
"""

import os

import keras
import numpy as np
import pytest

from keras_procrustes import models
from keras_procrustes.data import sources
from keras_procrustes.layers import PixelNormalization
from keras_procrustes.training import fit

BACKEND = keras.backend.backend()
# The formats checked on each backend, and why the others are not.
FORMATS = {
    "tensorflow": ("tf_saved_model", "litert", "onnx"),
    "jax": ("tf_saved_model", "onnx"),
    "torch": ("onnx",),
}
NOT_CHECKED = {
    ("jax", "litert"): "Keras' LiteRT export runs on TensorFlow and PyTorch only",
    ("torch", "litert"): "Keras' LiteRT export from PyTorch needs litert-torch "
                         "(not in the [export] extra)",
    ("torch", "tf_saved_model"): "Keras' SavedModel export from PyTorch needs torch_xla",
}
FILE_NAMES = {"tf_saved_model": "model", "litert": "model.tflite", "onnx": "model.onnx"}
# What each format's runtime needs (the `[export]` extra).
RUNTIMES = {
    "tf_saved_model": ("tensorflow",),
    "litert": ("ai_edge_litert",),
    "onnx": ("onnxruntime", {"tensorflow": "tf2onnx", "jax": "jax2onnx"}.get(BACKEND, "onnx")),
}
TOLERANCE = 1e-4
BATCH = 4


def _raw_images(shape, seed):
    """Raw uint8 pixels, as a deployed model receives them."""
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def run_artefact(export_format, path, images):
    """The outputs of an exported model on `images`, in the format's runtime."""
    pixels = images.astype("float32")  # the exported signature's dtype
    if export_format == "tf_saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(path)  # keep a reference while it runs
        return np.asarray(loaded.serve(tf.constant(pixels)))
    if export_format == "litert":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=path)
        inputs = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(inputs["index"], pixels.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(inputs["index"], pixels)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]
    assert len(names) == 1, f"the ONNX graph asks for more than the images: {names}"
    return session.run(None, {names[0]: pixels})[0]


def assert_same_outputs(actual, expected):
    actual = np.asarray(actual, "float64")
    expected = np.asarray(keras.ops.convert_to_numpy(expected), "float64")
    assert actual.shape == expected.shape
    difference = np.abs(actual - expected).max() / np.abs(expected).max()
    assert difference <= TOLERANCE, f"max relative difference {difference:.2e}"


def export_and_compare(model, export_format, folder, images):
    """Exports `model`, runs the artefact and compares it with `model`."""
    if export_format not in FORMATS[BACKEND]:
        pytest.skip(NOT_CHECKED[BACKEND, export_format])
    for module in RUNTIMES[export_format]:
        pytest.importorskip(module, reason="the [export] extra installs it")
    # Before exporting: Keras' ONNX export refuses a model never called,
    # such as one just loaded from a `.keras` file.
    expected = model(images, training=False)
    path = os.path.join(folder, FILE_NAMES[export_format])
    model.export(path, format=export_format, verbose=False)
    assert_same_outputs(run_artefact(export_format, path, images), expected)


# Session scope: pytest-xdist may run another module's tests between this
# module's, which tears a module-scoped fixture down and sets it up again.
@pytest.fixture(scope="session", params=[False, True], ids=["unrolled", "scanned"])
def trained_model(request):
    """A model after one training step: projected weights, moving statistics set."""
    model = models.ProcrustesResNet(
        [2, 2], [4, 8], input_shape=(16, 16, 3), classes=10, classifier_activation=None,
        scan=request.param, projection_probability=1.0)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [np.asarray(w) for w in model.non_trainable_weights]
    model.train_on_batch(_raw_images((8, 16, 16, 3), seed=0), np.arange(8) % 10)
    after = [np.asarray(w) for w in model.non_trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    return model


@pytest.mark.parametrize("export_format", ["tf_saved_model", "litert", "onnx"])
def test_exported_model_gives_the_models_logits(trained_model, export_format, tmp_path):
    images = _raw_images((BATCH, 16, 16, 3), seed=1)
    export_and_compare(trained_model, export_format, str(tmp_path), images)


@pytest.mark.skipif(not os.path.exists(sources.DEBIAN_FASHION_MNIST),
                    reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)")
def test_best_checkpoint_of_fit_exports(tmp_path):
    # Train, then deploy the best checkpoint: a scanned model through `fit`,
    # reloaded from `best.keras` and exported in the backend's ONNX path.
    model = models.get("procresnet13_bottleneck", input_shape=(28, 28, 1), classes=10,
                       scan=True)
    fit(model, "fashion_mnist", epochs=1, batch_size=32, max_train_examples=32,
        max_test_examples=32, log_dir=str(tmp_path / "run"), verbose=0)
    best = keras.models.load_model(tmp_path / "run" / "best.keras")
    _, (x_test, _), _ = sources.load_arrays("fashion_mnist")
    export_and_compare(best, "onnx", str(tmp_path), x_test[:BATCH])


def test_pixel_normalization_is_keras_normalization_with_constant_statistics(tmp_path):
    mean, std = [120.0, 110.0, 100.0], [60.0, 50.0, 40.0]
    model = keras.Sequential([
        keras.Input((2, 2, 3)),
        PixelNormalization(mean=mean, variance=[s * s for s in std], name="pixels"),
    ])
    assert isinstance(model.get_layer("pixels").mean, np.ndarray)  # no captured tensor
    images = _raw_images((2, 2, 2, 3), seed=2).astype("float32")
    expected = (images - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), expected, rtol=1e-6)
    model.save(tmp_path / "pixels.keras")
    loaded = keras.models.load_model(tmp_path / "pixels.keras")
    assert type(loaded.get_layer("pixels")) is PixelNormalization
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(images)), expected, rtol=1e-6)
