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
import time

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


def _run_on_every_backend(folder):
    """Runs the child on the three backends at once (each trains, then loads
    the others' files); waits for all, and stops them all when one fails."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    children = {}
    for backend in BACKENDS:
        with open(folder / f"{backend}.log", "w") as log:  # the child keeps its own copy
            children[backend] = subprocess.Popen(
                [sys.executable, CHILD, str(folder), *BACKENDS],
                env=dict(env, KERAS_BACKEND=backend), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    try:
        while any(child.poll() is None for child in children.values()):
            if time.monotonic() > deadline or any(
                    child.poll() not in (None, 0) for child in children.values()):
                break
            time.sleep(0.2)
    finally:
        stopped = [b for b, child in children.items() if child.poll() is None]
        for backend in stopped:
            children[backend].kill()
        for child in children.values():
            child.wait()
    # The one that failed first, not the ones stopped because of it.
    for backend in sorted(BACKENDS, key=lambda b: b in stopped):
        code = children[backend].returncode
        output = (folder / f"{backend}.log").read_text()
        assert code == 0, f"on {backend} (exit {code}):\n{output[-3000:]}"


# Session scope: pytest-xdist may run another module's tests between this
# module's, which tears a module-scoped fixture down and sets it up again.
@pytest.fixture(scope="session")
def exchanged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cross_backend")
    _run_on_every_backend(folder)
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
