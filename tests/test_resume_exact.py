"""A run SIGKILLed and resumed ends with exactly the weights of a run never stopped, on every backend.

One run of 3 epochs (2 steps each, 16 images a batch) is killed three times
and rerun after each kill: at the end of epoch 1 after its backup, while
epoch 2's backup is written (the rerun resumes from epoch 1 again), and in
epoch 3 after its first batch. Its final weights must equal, bit for bit,
those of the same run uninterrupted: a resume that restored the wrong epoch,
lost an optimizer update or the step count (the lr schedule), or fed
another data order or projection draw would differ. The straight run and
the killed one are separate processes of one seed, so this also shows that
two processes of one seed end with the same weights, on every backend. The
last rerun must also say where it resumes, not replay epoch 1, finish all 3
epochs, remove its backup, and leave a `best.keras` that scores what
metrics.json says. Each process is a `tests/children/resumed_fit.py`, which
kills itself at a chosen point.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_procrustes.data import sources
from processes import ROOT, child_env

pytestmark = [
    pytest.mark.skipif(not os.path.exists(sources.DEBIAN_FASHION_MNIST),
                       reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)"),
    pytest.mark.multiprocess,
    pytest.mark.slow,
]

CHILD = os.path.join(ROOT, "tests", "children", "resumed_fit.py")
OPTIONS = {
    "model": "procresnet13_bottleneck", "dataset": "fashion_mnist", "max_train_examples": 32,
    "max_test_examples": 16, "batch_size": 16, "epochs": 3, "lr": 0.05, "verbose": 2,
}
# Each kill, and the epoch the backup then names (None: no backup left).
KILLS = [("after_epoch:1", 1), ("writing_backup:2", 1), ("in_epoch:3:1", 2), ("none", None)]


def _run(log_dir, weights, kill):
    """Runs the child; its exit code and output."""
    options = json.dumps(dict(OPTIONS, log_dir=str(log_dir)))
    result = subprocess.run([sys.executable, CHILD, options, str(weights), kill],
                            capture_output=True, text=True, timeout=600, cwd=ROOT,
                            env=child_env(KERAS_BACKEND=keras.backend.backend()), check=False)
    return result.returncode, result.stdout + result.stderr


def _backup_epoch(log_dir):
    path = log_dir / "backup" / "backup.json"
    if not path.exists():
        return None
    with open(path) as handle:
        return json.load(handle)["epoch"]


def _accuracy_of(path):
    """The accuracy of a saved model on the run's raw test images."""
    _, (x_test, y_test), _ = sources.load_arrays(OPTIONS["dataset"])
    count = OPTIONS["max_test_examples"]
    model = keras.models.load_model(path)
    return float(np.mean(model.predict(x_test[:count], verbose=0).argmax(-1) == y_test[:count]))


def test_a_run_killed_three_times_ends_with_the_weights_of_a_run_never_stopped(tmp_path):
    code, output = _run(tmp_path / "straight", tmp_path / "straight.npz", "none")
    assert code == 0, output
    for kill, backed_up in KILLS:
        code, output = _run(tmp_path / "killed", tmp_path / "killed.npz", kill)
        assert code == (0 if kill == "none" else -9), (kill, output[-5000:])
        assert _backup_epoch(tmp_path / "killed") == backed_up, (kill, output[-5000:])
    assert "resuming at epoch 3" in output and "Epoch 3/3" in output, output[-5000:]
    assert "Epoch 1/3" not in output and "Epoch 2/3" not in output, output[-5000:]
    with open(tmp_path / "killed" / "metrics.json") as handle:
        metrics = json.load(handle)
    assert metrics["resumed_from_epoch"] == 2 and metrics["optimizer_iterations_at_start"] == 4
    assert metrics["epochs_done"] == 3 and len(metrics["test_error_per_epoch"]) == 3
    assert not (tmp_path / "killed" / "backup").exists()
    assert _accuracy_of(tmp_path / "killed" / "best.keras") == pytest.approx(
        1 - metrics["best_test_error"])
    straight, resumed = np.load(tmp_path / "straight.npz"), np.load(tmp_path / "killed.npz")
    assert straight.files == resumed.files
    for name in straight.files:
        np.testing.assert_array_equal(resumed[name], straight[name], err_msg=name)
