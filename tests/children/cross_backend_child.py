"""One backend's side of test_cross_backend.py (run with KERAS_BACKEND set).

    python cross_backend_child.py FOLDER BACKEND...   # train, then load the others'

It trains, then waits until every backend named has trained (their
`{backend}.trained` files in FOLDER), then loads their files: one process a
backend does both, which saves a start-up (imports) per backend.

Training builds each form of a small ProcrustesResNet (unrolled blocks and a
scanned stack), trains it two SGD steps with the projection on every step, and
writes `{backend}-{form}.keras`, its weights (`-weights.npz`) and its logits
on a fixed batch (`-logits.npy`). Loading loads every other backend's
`.keras` file, checks that it holds the saved weights and the optimizer's
step count, and writes its logits as `{source}-{form}-on-{backend}.npy`.
What the test asserts on is in these files; this script does not compare
predictions itself.
"""

import glob
import json
import os
import sys
import time

import keras
import numpy as np

from keras_procrustes import models

FORMS = {"unrolled": False, "scanned": True}
# The other backends' training, on a loaded 2-core machine (the test's own
# deadline is longer).
WAIT_S = 400


def batch():
    """A fixed batch of raw pixel values and labels."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(8, 8, 8, 3)).astype("float32")
    return x, rng.integers(0, 5, 8)


def build(scan):
    return models.get("procresnet13_bottleneck", input_shape=(8, 8, 3), classes=5,
                      classifier_activation=None, projection_probability=1.0, scan=scan)


def train(folder, backend):
    x, y = batch()
    for form, scan in FORMS.items():
        keras.utils.set_random_seed(1)
        model = build(scan)
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        for _ in range(2):
            model.train_on_batch(x, y)
        prefix = os.path.join(folder, f"{backend}-{form}")
        model.save(prefix + ".keras")
        np.savez(prefix + "-weights.npz",
                 **{w.path: keras.ops.convert_to_numpy(w) for w in model.weights})
        np.save(prefix + "-logits.npy", keras.ops.convert_to_numpy(model(x, training=False)))


def load(folder, backend):
    x, _ = batch()
    found = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.keras"))):
        source, form = os.path.basename(path)[: -len(".keras")].split("-")
        if source == backend:
            continue
        model = keras.models.load_model(path)
        saved = np.load(path[: -len(".keras")] + "-weights.npz")
        loaded = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
        found[f"{source}-{form}"] = {
            "weights_equal": sorted(loaded) == sorted(saved.files) and all(
                np.array_equal(value, saved[path]) for path, value in loaded.items()),
            "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        }
        np.save(os.path.join(folder, f"{source}-{form}-on-{backend}.npy"),
                keras.ops.convert_to_numpy(model(x, training=False)))
    with open(os.path.join(folder, f"loaded-on-{backend}.json"), "w") as handle:
        json.dump(found, handle)


def wait_for(folder, backends):
    """Waits until every backend in `backends` has marked its training done."""
    deadline = time.monotonic() + WAIT_S
    while not all(os.path.exists(os.path.join(folder, f"{b}.trained")) for b in backends):
        if time.monotonic() > deadline:
            sys.exit(f"the other backends did not train within {WAIT_S} s")
        time.sleep(0.2)


if __name__ == "__main__":
    folder, *backends = sys.argv[1:]
    backend = keras.backend.backend()
    train(folder, backend)
    open(os.path.join(folder, f"{backend}.trained"), "w").close()
    wait_for(folder, backends)
    load(folder, backend)
