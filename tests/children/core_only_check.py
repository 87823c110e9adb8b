"""Run by test_packaging.py inside a venv holding only the core wheel and JAX.

Prints one JSON object of what it found; the test asserts on it.
"""

import importlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import tempfile

import numpy as np

found = {"tensorflow_installed": importlib.util.find_spec("tensorflow") is not None}

import keras  # noqa: E402

import keras_procrustes  # noqa: E402
from keras_procrustes import ProcrustesProjection  # noqa: E402
from keras_procrustes import constraints  # noqa: E402,F401
from keras_procrustes import diagnostics  # noqa: E402,F401
from keras_procrustes import layers  # noqa: E402,F401
from keras_procrustes import models  # noqa: E402,F401
from keras_procrustes import spectral  # noqa: E402,F401

found["backend"] = keras.backend.backend()
found["version"] = keras_procrustes.__version__
found["metadata_version"] = importlib.metadata.version("keras-procrustes")
found["modules_loaded"] = sorted(
    name for name in ("tensorflow", "tensorflow_datasets", "keras_tuner", "matplotlib")
    if name in sys.modules
)

model = models.resnet56()
found["trainable_parameters"] = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
x = np.random.default_rng(0).integers(0, 256, size=(2, 32, 32, 3)).astype("float32")
predictions = np.asarray(model.predict(x, verbose=0))
found["prediction_shape"] = list(predictions.shape)
found["prediction_sums"] = predictions.sum(axis=1).tolist()
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "m.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    found["reload_max_difference"] = float(
        np.abs(np.asarray(reloaded.predict(x, verbose=0)) - predictions).max()
    )

kernel = np.random.default_rng(1).normal(size=(1, 1, 64, 128)).astype("float32")
projected = np.asarray(ProcrustesProjection((16, 16))(keras.ops.convert_to_tensor(kernel)))
values = np.linalg.svd(projected[0, 0], compute_uv=False)  # numpy's, not ours
found["projected_singular_values"] = [len(values), float(values.min()), float(values.max())]

found["imports"] = {}
for name in ("keras_procrustes.training", "keras_procrustes.data",
             "keras_procrustes.training.search.hypermodel"):
    try:
        importlib.import_module(name)
        found["imports"][name] = None
    except ImportError as error:
        found["imports"][name] = [type(error).__name__, str(error)]
print(json.dumps(found))
