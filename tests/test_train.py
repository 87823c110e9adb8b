"""End-to-end runs of `python -m keras_procrustes.train` on real offline data."""

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from keras_procrustes import callbacks
from keras_procrustes.data import sources

needs_fashion = pytest.mark.skipif(
    not os.path.exists(sources.DEBIAN_FASHION_MNIST),
    reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)",
)
tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="MirroredStrategy is TensorFlow's"
)

SHORT_RUN = [
    "--model", "procresnet13", "--dataset", "fashion_mnist",
    "--max-test-examples", "128", "--batch-size", "32", "--lr", "0.05", "--verbose", "2",
]


def _command(log_dir, *extra):
    return [sys.executable, "-m", "keras_procrustes.train", *SHORT_RUN,
            "--log-dir", str(log_dir), *extra]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")


def _train(log_dir, *extra):
    result = subprocess.run(_command(log_dir, *extra), capture_output=True, text=True,
                            timeout=900, env=_env(), check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    with open(os.path.join(log_dir, "metrics.json")) as handle:
        return json.load(handle), result.stdout


def _scalar_tags(folder):
    events = EventAccumulator(str(folder))
    events.Reload()
    return events, set(events.Tags()["tensors"])


@needs_fashion
def test_train_writes_tensorboard_metrics_and_best_model(tmp_path):
    metrics, stdout = _train(tmp_path, "--epochs", "2", "--max-train-examples", "256")
    assert "Epoch 2/2" in stdout  # progress output
    assert metrics["epochs_done"] == 2 and metrics["replicas"] == 1
    assert 0 <= metrics["best_test_error"] <= metrics["last_test_error"] <= 1
    assert metrics["images_per_second"] > 0 and metrics["train_examples"] == 256
    events, tags = _scalar_tags(tmp_path / "train")
    expected = {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "epoch_images_per_second"}
    for layer in ("stem_conv", "transition1", "transition2"):
        expected |= {f"epoch_singular_value_min/{layer}", f"epoch_singular_value_max/{layer}"}
    assert expected <= tags
    losses = [tf.make_ndarray(e.tensor_proto) for e in events.Tensors("epoch_loss")]
    assert len(losses) == 2 and all(np.isfinite(losses))
    low = tf.make_ndarray(events.Tensors("epoch_singular_value_min/transition1")[-1].tensor_proto)
    high = tf.make_ndarray(events.Tensors("epoch_singular_value_max/transition1")[-1].tensor_proto)
    assert 1.3 < low <= high < 1.5  # near sqrt(2): projected on half the steps
    _, validation_tags = _scalar_tags(tmp_path / "validation")
    assert {"epoch_loss", "epoch_accuracy"} <= validation_tags
    best = keras.models.load_model(tmp_path / "best.keras")
    assert best.output_shape == (None, 10)


@needs_fashion
@tensorflow_only
def test_train_mirrored_over_two_cpus_with_remat(tmp_path):
    metrics, stdout = _train(tmp_path, "--epochs", "1", "--max-train-examples", "128",
                             "--cpu-replicas", "2", "--remat")
    assert metrics["replicas"] == 2 and metrics["global_batch"] == 64
    assert metrics["remat"] and np.isfinite(metrics["last_test_error"])
    assert "2 replica(s)" in stdout
    _, tags = _scalar_tags(tmp_path / "train")
    assert "epoch_loss" in tags


@needs_fashion
def test_killed_run_resumes_at_the_right_epoch(tmp_path):
    args = ("--epochs", "3", "--max-train-examples", "1024")
    process = subprocess.Popen(_command(tmp_path, *args), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=_env())
    deadline = time.monotonic() + 600
    for line in process.stdout:  # wait until epoch 2 has begun
        if line.startswith("Epoch 2/3") or time.monotonic() > deadline:
            break
    time.sleep(0.3)  # inside epoch 2 (32 steps)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    with open(tmp_path / "backup" / "training_metadata.json") as handle:
        finished = json.load(handle)["epoch"]  # epochs finished before the kill
    assert finished in (1, 2)
    metrics, stdout = _train(tmp_path, *args)
    steps = metrics["steps_per_epoch"]
    assert metrics["resumed_from_epoch"] == finished
    # The step counter is optimizer state: restored, not restarted from 0.
    assert metrics["optimizer_iterations_at_start"] == finished * steps
    assert "Epoch 1/3" not in stdout and f"Epoch {finished + 1}/3" in stdout
    assert metrics["epochs_done"] == 3
    assert not os.path.exists(tmp_path / "backup")  # a finished run cleans up


def test_nan_loss_stops_with_backup_intact(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")
    dense = keras.layers.Dense(1)
    model = keras.Sequential([keras.Input((4,)), dense])
    model.compile("sgd", "mse")

    def poison(epoch, logs):  # the weights turn NaN as epoch 2 begins
        if epoch == 1:
            dense.kernel.assign(np.full((4, 1), np.nan, "float32"))

    backup = str(tmp_path / "backup")
    with pytest.raises(FloatingPointError, match=r"nan at epoch 2, batch 1.*backup"):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[
            keras.callbacks.BackupAndRestore(backup),
            keras.callbacks.LambdaCallback(on_epoch_begin=poison),
            callbacks.NaNGuard(backup)])
    with open(os.path.join(backup, "training_metadata.json")) as handle:
        assert json.load(handle)["epoch"] == 1
    names = []
    with h5py.File(os.path.join(backup, "latest.weights.h5"), "r") as weights:
        weights.visit(names.append)
    assert any(name.startswith("optimizer") for name in names)  # optimizer state kept
    restored = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    restored.compile("sgd", "mse")
    restored.load_weights(os.path.join(backup, "latest.weights.h5"))
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(restored.layers[0].kernel)))


def test_bad_option_is_refused_by_the_cli(tmp_path):
    result = subprocess.run(_command(tmp_path, "--epochs", "0"), capture_output=True,
                            text=True, timeout=120, env=_env(), check=False)
    assert result.returncode == 2 and "--epochs must be positive" in result.stderr


def test_missing_data_is_a_clean_cli_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "keras_procrustes.train", "--dataset", "cifar10",
         "--data-dir", str(tmp_path), "--no-download", "--log-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120, env=_env(), check=False)
    assert result.returncode == 2
    assert "cifar-10-binary.tar.gz" in result.stderr and "Traceback" not in result.stderr


def test_remat_note_on_jax_with_a_cpu(capsys):
    from keras_procrustes import train

    train.warn_if_remat_is_void(False)
    assert capsys.readouterr().out == ""
    train.warn_if_remat_is_void(True)
    said = "--remat saves no memory" in capsys.readouterr().out
    on_jax_cpu = keras.backend.backend() == "jax"
    if on_jax_cpu:
        import jax

        on_jax_cpu = jax.default_backend() == "cpu"
    assert said == on_jax_cpu
