"""A model trained on one backend, saved, loaded on another: the same model.

One process per backend (a process has one Keras backend), so this runs in
the TensorFlow pass only; it starts TensorFlow, JAX and torch itself.
"""

import importlib.util
import itertools
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

BACKENDS = ("tensorflow", "jax", "torch")
CHILD = os.path.join(os.path.dirname(__file__), "children", "cross_backend_child.py")

pytestmark = [
    pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                       reason="starts every backend itself; run in the TensorFlow pass"),
    pytest.mark.skipif(any(importlib.util.find_spec(b) is None for b in BACKENDS),
                       reason="needs tensorflow, jax and torch installed"),
    pytest.mark.xdist_group("cross_backend"),  # one worker runs the module's children
    pytest.mark.multiprocess,
    pytest.mark.slow,
]


def _run_on_every_backend(mode, folder):
    """Runs the child in `mode` on the three backends at once; waits for all."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    children = {
        backend: subprocess.Popen([sys.executable, CHILD, mode, str(folder)],
                                  env=dict(env, KERAS_BACKEND=backend),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for backend in BACKENDS
    }
    for backend, child in children.items():
        output, _ = child.communicate(timeout=600)
        assert child.returncode == 0, f"{mode} on {backend}:\n{output[-3000:]}"


# Session scope: pytest-xdist may run another module's tests between this
# module's, which tears a module-scoped fixture down and sets it up again.
@pytest.fixture(scope="session")
def exchanged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cross_backend")
    _run_on_every_backend("train", folder)
    _run_on_every_backend("load", folder)
    return folder


@pytest.mark.parametrize("form", ["unrolled", "scanned"])
@pytest.mark.parametrize("source, target", list(itertools.permutations(BACKENDS, 2)))
def test_trained_model_predicts_the_same_on_another_backend(exchanged, source, target, form):
    with open(exchanged / f"loaded-on-{target}.json") as handle:
        loaded = json.load(handle)[f"{source}-{form}"]
    assert loaded == {"weights_equal": True, "iterations": 2}
    own = np.load(exchanged / f"{source}-{form}-logits.npy")
    there = np.load(exchanged / f"{source}-{form}-on-{target}.npy")
    assert own.shape == (8, 5) and np.all(np.isfinite(own))
    np.testing.assert_allclose(there, own, rtol=0, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_saved_transitions_are_projected_after_the_last_step(exchanged, backend):
    """The files hold trained Procrustes nets: every step projected the
    transitions (64 -> 128 -> 256 channels), so their 1x1 kernels' singular
    values are sqrt(2) (numpy's SVD)."""
    for form in ("unrolled", "scanned"):
        weights = np.load(exchanged / f"{backend}-{form}-weights.npz")
        for name in ("transition1/kernel", "transition2/kernel"):
            kernel = weights[name]
            values = np.linalg.svd(kernel[0, 0], compute_uv=False)
            np.testing.assert_allclose(values, np.sqrt(2.0), atol=1e-4)
