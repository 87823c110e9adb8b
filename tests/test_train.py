"""End-to-end runs of the `train` command and `fit` on real offline data."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from keras_procrustes.cli import train as train_command
from keras_procrustes.data import sources
from keras_procrustes.training import fit

needs_fashion = pytest.mark.skipif(
    not os.path.exists(sources.DEBIAN_FASHION_MNIST),
    reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)",
)
tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="checked on TensorFlow"
)

SHORT_RUN = [
    "--model", "procresnet13_bottleneck", "--dataset", "fashion_mnist",
    "--max-test-examples", "128", "--batch-size", "32", "--lr", "0.05", "--verbose", "2",
]


def _command(log_dir, *extra):
    return [sys.executable, "-m", "keras_procrustes.cli.train", *SHORT_RUN,
            "--log-dir", str(log_dir), *extra]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")


def _run(log_dir, *extra):
    return subprocess.run(_command(log_dir, *extra), capture_output=True, text=True,
                          timeout=900, env=_env(), check=False)


def _train(log_dir, *extra):
    result = _run(log_dir, *extra)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    with open(os.path.join(log_dir, "metrics.json")) as handle:
        return json.load(handle), result.stdout


def _events(folder):
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0, "images": 0})
    events.Reload()
    return events


def _raw_test_split(count=128):
    _, (x_test, y_test), _ = sources.load_arrays("fashion_mnist")
    return x_test[:count], y_test[:count]


def _accuracy_of(path, count=128):
    x, y = _raw_test_split(count)
    model = keras.models.load_model(path)
    return float(np.mean(model.predict(x, verbose=0).argmax(-1) == y))


@needs_fashion
def test_train_logs_and_its_best_model_takes_raw_pixels(tmp_path, capsys):
    # In this process: what the command prints and writes is tested, not its start-up.
    # 2 steps an epoch, gradient norm ratios on 4 images: what is checked is
    # what is logged at which step (on JAX the ratios on the default 32
    # images doubled the test's time).
    argv = [*SHORT_RUN, "--log-dir", str(tmp_path), "--epochs", "2", "--max-train-examples",
            "64", "--grad-norm-every", "1", "--grad-norm-examples", "4"]
    assert train_command.main(argv) == 0
    stdout = capsys.readouterr().out
    with open(tmp_path / "metrics.json") as handle:
        metrics = json.load(handle)
    assert "Epoch 2/2" in stdout and "grad_norm_ratio/" not in stdout
    assert metrics["epochs_done"] == 2 and metrics["replicas"] == 1
    assert 0 <= metrics["best_test_error"] <= metrics["last_test_error"] <= 1
    # metrics.json describes best.keras, which predicts on raw uint8 pixels.
    assert _accuracy_of(tmp_path / "best.keras") == pytest.approx(1 - metrics["best_test_error"])
    events = _events(tmp_path / "train")
    tags = set(events.Tags()["tensors"])
    for layer in ("stem_conv", "transition1", "transition2"):
        assert f"epoch_singular_value_min/{layer}" in tags
    loss_steps = [e.step for e in events.Tensors("epoch_loss")]
    assert loss_steps == [0, 1]
    assert [e.step for e in events.Tensors("grad_norm_ratio")] == loss_steps  # histograms
    assert [e.step for e in events.Tensors("grad_norm_ratio_profile")] == loss_steps  # images
    high = tf.make_ndarray(events.Tensors("epoch_singular_value_max/transition1")[-1].tensor_proto)
    assert 1.3 < high < 1.5  # near sqrt(2)
    assert not os.path.exists(tmp_path / "backup")
    with open(tmp_path / "keras_procrustes_run.json") as handle:
        assert json.load(handle)["status"] == "finished"


@needs_fashion
@tensorflow_only
def test_a_finished_run_is_refused_and_a_new_one_numbered_beside_it(tmp_path, capsys):
    # The run folder's rules are the same on every backend: checked in the
    # TensorFlow pass, and in this process (the folder is what is tested, as
    # the option errors are in tests/test_cli_errors.py; CI's time).
    argv = [*SHORT_RUN, "--log-dir", str(tmp_path), "--epochs", "1", "--max-train-examples", "64"]
    assert train_command.main(argv) == 0
    with open(tmp_path / "metrics.json") as handle:
        metrics = json.load(handle)
    capsys.readouterr()
    # Rerunning a finished run: refused by default, a numbered run on request.
    with pytest.raises(SystemExit) as exit_info:
        train_command.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "holds a finished run" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    new_dir = f"{tmp_path}-2"
    try:
        assert train_command.main([*argv, "--existing", "new"]) == 0
        with open(os.path.join(new_dir, "metrics.json")) as handle:
            assert json.load(handle)["epochs_done"] == 1
        with open(tmp_path / "metrics.json") as handle:
            assert json.load(handle) == metrics  # the first run is untouched
    finally:
        shutil.rmtree(new_dir, ignore_errors=True)


@needs_fashion
@tensorflow_only
def test_three_replicas_with_a_short_last_batch(tmp_path):
    # 97 examples, global batch 96: the last batch would leave replicas empty.
    metrics, stdout = _train(tmp_path, "--epochs", "1", "--max-train-examples", "97",
                             "--max-test-examples", "97", "--cpu-replicas", "3", "--remat")
    assert metrics["replicas"] == 3 and metrics["global_batch"] == 96
    assert metrics["steps_per_epoch"] == 1 and np.isfinite(metrics["last_test_error"])
    assert "3 replica(s)" in stdout
    assert _accuracy_of(tmp_path / "best.keras", 97) == pytest.approx(
        1 - metrics["best_test_error"])  # the padding did not count


# Session scope: pytest-xdist may run another module's tests between this
# module's, which tears a module-scoped fixture down and sets it up again.
# Not on JAX: there tests/test_multiprocess.py kills a job of two processes
# in epoch 2, resumes it and compares it with one process (CI's time). A
# resume that succeeds is checked on every backend in
# tests/test_resume_exact.py; this run's backup is damaged below.
resumed_here = pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="JAX resumes in tests/test_multiprocess.py")


@pytest.fixture(scope="session")
def killed_run(tmp_path_factory):
    """A run SIGKILLed in epoch 2 or 3 of 3 (its backup names epoch 1 or 2), and its arguments."""
    log_dir = tmp_path_factory.mktemp("killed") / "run"
    args = ("--epochs", "3", "--max-train-examples", "1024")
    process = subprocess.Popen(_command(log_dir, *args), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=_env())
    deadline = time.monotonic() + 600
    for line in process.stdout:  # wait until epoch 2 has begun
        if line.startswith("Epoch 2/3") or time.monotonic() > deadline:
            break
    time.sleep(0.3)  # inside epoch 2 (32 steps)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    return log_dir, args


def _copy(run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target


@needs_fashion
@resumed_here
@pytest.mark.xdist_group("killed_run")
@pytest.mark.parametrize("damage, said", [
    ("weights_missing", "is missing"),
    ("metadata_truncated", "can't be read"),
    ("weights_truncated", "is corrupt"),
    ("other_options", "--lr 0.1"),
])
def test_damaged_backup_is_one_clear_line(killed_run, tmp_path, capsys, damage, said):
    log_dir, args = killed_run
    log_dir = _copy(log_dir, tmp_path)
    backup = log_dir / "backup"
    weights = next(backup.glob("epoch-*.weights.h5"))
    argv = [*SHORT_RUN, "--log-dir", str(log_dir), *args]
    if damage == "weights_missing":
        weights.unlink()
    elif damage == "weights_truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "metadata_truncated":
        (backup / "backup.json").write_text('{"epoch": ')
    else:
        argv[argv.index("--lr") + 1] = "0.1"
    with pytest.raises(SystemExit) as exit_info:
        train_command.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and said in err and str(log_dir) in err
    assert len(err.strip().splitlines()) == 1


def test_fit_from_a_script_on_arrays_and_a_nan_stop(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (48, 8, 8, 1), dtype="uint8")
    y = (x.mean(axis=(1, 2, 3)) > 127).astype("int32")
    metrics = fit("procresnet13_bottleneck", ((x, y), (x, y)), epochs=2, batch_size=16, verbose=0,
                  log_dir=str(tmp_path / "ok"))
    assert metrics["epochs_done"] == 2 and metrics["dataset"] == "arrays"
    with pytest.raises(FloatingPointError, match="no backup"):
        fit("procresnet13_bottleneck", ((x, y), (x, y)), epochs=2, batch_size=16, lr=1e30,
            verbose=0, log_dir=str(tmp_path / "nan"))
    with pytest.raises(ValueError, match="lr=-1"):
        fit("procresnet13_bottleneck", ((x, y), (x, y)), lr=-1, log_dir=str(tmp_path / "bad"))
    assert not os.path.exists(tmp_path / "bad")
