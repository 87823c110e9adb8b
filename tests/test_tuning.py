"""keras-tuner searches over ProcrustesResNetHyperModel, for real."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import keras_tuner
import numpy as np
import pytest
from processes import ROOT
from processes import child_env
from processes import free_port
from processes import takes_ctrl_c
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from keras_procrustes.data import sources
from keras_procrustes.training.callbacks import norm_preservation_monitor
from keras_procrustes.training.callbacks import training_monitor
from keras_procrustes.training.search import hypermodel as hypermodels


def _arrays(count):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, 8, 8, 3)).astype("float32")
    return x, (x.mean(axis=(1, 2, 3)) > 0).astype("int32")


def test_hypermodel_builds_the_space():
    hypermodel = hypermodels.ProcrustesResNetHyperModel((8, 8, 3), 2, depths=(11, 20))
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert set(hp.values) == {"lr", "weight_decay", "depth", "projection_probability",
                              "projection_target_scale", "project_stem", "project_transitions"}
    assert model.optimizer is not None and model.name == "procresnet13_bottleneck"
    hp.values["project_transitions"] = False
    hp.values["projection_target_scale"] = 1.2
    hp.values["depth"] = 20
    other = hypermodel.build(hp)
    assert other.name == "procresnet22_bottleneck"
    assert other.get_layer("transition1").kernel.constraint is None
    assert other.get_layer("stem_conv").projection.target_scale == 1.2


@pytest.mark.parametrize("tuner_id, role", [
    ("chief", ("chief", "10.0.0.1:8000")),
    ("tuner0", ("worker", "tuner0", "10.0.0.1:8000")),
    ("worker-a", ("worker", "a", "10.0.0.1:8000")),  # the ID `--worker a` gives keras-tuner
])
def test_keras_tuner_variables_give_the_part_the_flags_give(monkeypatch, tuner_id, role):
    from keras_procrustes.training.search.config import SearchConfig

    monkeypatch.setenv("KERASTUNER_TUNER_ID", tuner_id)
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "10.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    assert SearchConfig().role() == role
    monkeypatch.delenv("KERASTUNER_ORACLE_IP")
    monkeypatch.delenv("KERASTUNER_ORACLE_PORT")
    monkeypatch.delenv("KERASTUNER_TUNER_ID")
    assert SearchConfig.with_role(role).role() == role


@pytest.mark.parametrize("tuner_id, flags", [
    ("worker-a", ["--worker", "a", "--oracle", "10.0.0.1:8000"]),
    ("chief", ["--chief", "--oracle", "10.0.0.1:8000"]),
])
def test_the_resume_line_keeps_the_part_keras_tuners_variables_gave(monkeypatch, tuner_id,
                                                                    flags):
    # Run in a new shell, the printed line must resume this process's part,
    # not start a search of its own in the chief's folder.
    from keras_procrustes.cli import tune as tune_command

    monkeypatch.setenv("KERASTUNER_TUNER_ID", tuner_id)
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "10.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    args = tune_command.build_parser().parse_args(["--directory", "d"])
    words = tune_command.resume_arguments(args, KeyboardInterrupt())
    for flag in flags:
        assert flag in words, words
    if "--worker" in flags:
        assert words[words.index("--worker") + 1] == "a"
    assert words[words.index("--oracle") + 1] == "10.0.0.1:8000"


def test_bad_depth_is_refused():
    with pytest.raises(ValueError, match="depth=12"):
        hypermodels.ProcrustesResNetHyperModel((8, 8, 3), 2, depths=(11, 12))
    with pytest.raises(ValueError, match="kind='grid'"):
        hypermodels.make_tuner(hypermodels.ProcrustesResNetHyperModel((8, 8, 3), 2, depths=(11,)), kind="grid")


@pytest.mark.parametrize("kind", ["random", "bayesian", "hyperband"])
def test_the_same_seed_draws_the_same_trials(tmp_path, kind):
    # keras-tuner reads a seed of 0 as none and draws one at random; the
    # default seed 0 must still give the same first hyperparameters.
    hypermodel = hypermodels.ProcrustesResNetHyperModel((8, 8, 3), 2, depths=(11, 20),
                                                   batch_sizes=(16, 32, 64))
    drawn = []
    for run in range(2):
        tuner = hypermodels.make_tuner(hypermodel, kind=kind, max_trials=3, seed=0,
                                  directory=str(tmp_path), project_name=f"{kind}{run}")
        trials = [tuner.oracle.create_trial(f"tuner{i}") for i in range(3)]
        drawn.append([trial.hyperparameters.values for trial in trials])
    assert drawn[0] == drawn[1]


# The oracles are keras-tuner's, the same on every backend: the other two
# kinds run on TensorFlow only, to keep CI short.
oracle_on_tensorflow = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="oracle logic checked on TensorFlow")
# The tune command stopped, killed and resumed runs on TensorFlow (on torch
# it took 34 s of CI's time). What differs by backend is checked on every
# backend, in this process: a trial run again starts with an empty
# TensorBoard folder (the package writes JAX's and torch's trial logs
# itself), and the train command's Ctrl-C (tests/test_writers.py); the tune
# command runs a one-trial search on JAX and torch, below.
command_on_tensorflow = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the tune command stopped, killed and resumed on TensorFlow")


def _check_trial_logs(logs, trials):
    """Each trial's TensorBoard folder holds its own hyperparameters.

    keras-tuner does this on TensorFlow only; make_tuner's tuner on every
    backend.
    """
    assert sorted(os.listdir(logs)) == sorted(trials)
    for trial_id, trial in trials.items():
        folder = logs / trial_id / "execution0"  # keras-tuner's layout on TensorFlow
        events = EventAccumulator(str(folder))
        events.Reload()
        tags = events.Tags()["tensors"]
        assert "_hparams_/session_start_info" in tags  # the HParams dashboard's record
        content = events.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
        recorded = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
        assert recorded["lr"].number_value == pytest.approx(trial.hyperparameters.values["lr"])
        assert os.listdir(folder / "train")  # the TensorBoard callback's own logs


@pytest.mark.parametrize("kind", ["random", pytest.param("bayesian", marks=oracle_on_tensorflow),
                                  pytest.param("hyperband", marks=oracle_on_tensorflow)])
def test_search_logs_each_trial_and_its_best_model_predicts(tmp_path, kind):
    x, y = _arrays(64)
    hypermodel = hypermodels.ProcrustesResNetHyperModel((8, 8, 3), 2, depths=(11,), batch_sizes=(16, 32))
    tuner = hypermodels.make_tuner(hypermodel, kind=kind, max_trials=2, max_epochs=2,
                              directory=str(tmp_path), project_name=kind)
    monitor = norm_preservation_monitor.NormPreservationMonitor(x[:8], y[:8], at_start=False)
    logs = tmp_path / "logs"
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0,
                 callbacks=[monitor, training_monitor.TrainingMonitor(len(x)),
                            keras.callbacks.TensorBoard(str(logs))])
    trials = tuner.oracle.get_best_trials(10)
    assert len(trials) >= 2 and all(t.status == "COMPLETED" for t in trials)
    for trial in trials:  # the deep-copied monitors put their figures in logs
        assert trial.metrics.exists("grad_norm_ratio/stage1_block1")
        assert trial.metrics.exists("images_per_second")
    assert monitor.history == {}  # the tuner trained copies, not the original
    every_trial = {t.trial_id: t for t in tuner.oracle.trials.values()}
    assert kind == "hyperband" or len(every_trial) == 2  # Hyperband's brackets set its count
    _check_trial_logs(logs, every_trial)
    best = tuner.get_best_models(1)[0]
    path = os.path.join(tmp_path, "best.keras")
    best.save(path)
    predictions = keras.models.load_model(path).predict(x[:4], verbose=0)
    assert predictions.shape == (4, 2)
    np.testing.assert_allclose(predictions, best.predict(x[:4], verbose=0), atol=1e-5)


def test_a_trial_run_again_starts_with_an_empty_tensorboard_folder(tmp_path):
    # A resumed or retried trial keeps its ID: its earlier logs are deleted.
    x, y = _arrays(32)
    hypermodel = hypermodels.ProcrustesResNetHyperModel((8, 8, 3), 2, depths=(11,),
                                                        batch_sizes=(16,))
    tuner = hypermodels.make_tuner(hypermodel, max_trials=1, directory=str(tmp_path),
                                   project_name="p")
    logs = tmp_path / "p" / "tensorboard"  # in the project: the tune command's place
    options = dict(validation_data=(x, y), epochs=1, verbose=0)
    tuner.search(x, y, callbacks=[keras.callbacks.TensorBoard(str(logs))], **options)
    (trial,) = tuner.oracle.trials.values()
    first = _events(logs / trial.trial_id)
    assert first
    tuner.run_trial(trial, x, y, callbacks=[keras.callbacks.TensorBoard(str(logs))], **options)
    again = _events(logs / trial.trial_id)
    assert again and not set(again) & set(first)
    assert len({os.path.dirname(name) for name in again}) == len(again)  # one file a folder
    _check_trial_logs(logs, {trial.trial_id: trial})


def test_fit_rebatches_a_dataset(tmp_path):
    import tensorflow as tf

    x, y = _arrays(32)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    hypermodel = hypermodels.ProcrustesResNetHyperModel((8, 8, 3), 2, depths=(11,), batch_sizes=(8,))
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    sizes = []
    batch_sizes = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: sizes.append(batch))
    history = hypermodel.fit(hp, model, dataset, validation_data=dataset, epochs=1, verbose=0,
                             callbacks=[batch_sizes])
    assert hp.values["batch_size"] == 8
    assert sizes == [0, 1, 2, 3]  # 32 examples in batches of 8
    assert "val_loss" in history.history


def test_batch_size_and_lr_scale_with_replicas():
    x, y = _arrays(30)
    hypermodel = hypermodels.ProcrustesResNetHyperModel((8, 8, 3), 2, depths=(11,), batch_sizes=(4,),
                                             replicas=3)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(
        3 * hp.values["lr"])
    sizes = []
    seen = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: sizes.append(b))
    hypermodel.fit(hp, model, x, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=[seen])
    assert sizes == [0, 1]  # 30 examples, global batch 12: the short last batch dropped


def _events(folder):
    """The TensorBoard event files under `folder`, relative to it."""
    return sorted(os.path.relpath(os.path.join(where, name), folder)
                  for where, _, names in os.walk(folder) for name in names
                  if name.startswith("events.out.tfevents."))


def _trial(project, number):
    with open(project / f"trial_{number}" / "trial.json") as handle:
        return json.load(handle)


def _wait_for_line(log, text, process, deadline_s=300):
    """Waits until `text` is in the file `log`, while `process` runs."""
    deadline = time.monotonic() + deadline_s
    while text not in log.read_text():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.05)


@pytest.mark.skipif(not os.path.exists(sources.DEBIAN_FASHION_MNIST),
                    reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)")
@command_on_tensorflow
def test_a_search_stopped_then_killed_redoes_only_the_trial_it_was_in(tmp_path):
    """The tune command, three times on one directory.

    Ctrl-C in trial 0, then the same command: trial 0 again with its values,
    its stopped logs gone. That run SIGKILLed in trial 1 (trial 0 completed),
    then the same command: trial 1 only, trial 0 not redone.
    """
    command = [sys.executable, "-m", "keras_procrustes.cli.tune", "--dataset", "fashion_mnist",
               "--depths", "11", "--batch-sizes", "32", "--max-trials", "2", "--epochs", "2",
               "--max-train-examples", "64", "--max-test-examples", "32",
               "--directory", str(tmp_path), "--verbose", "2"]
    project = tmp_path / "procresnet"

    def start(name, **kwargs):
        with open(tmp_path / name, "w") as output:
            return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                    env=child_env(), cwd=ROOT, **kwargs)

    stopped_run = start("stopped.log", preexec_fn=takes_ctrl_c)
    _wait_for_line(tmp_path / "stopped.log", "Epoch 2/2", stopped_run)  # epoch 1 logged
    stopped_run.send_signal(signal.SIGINT)
    assert stopped_run.wait(timeout=120) == 130, (tmp_path / "stopped.log").read_text()[-3000:]
    stopped = _trial(project, 0)
    assert stopped["status"] == "RUNNING"
    first_events = _events(project / "tensorboard" / "0")
    assert first_events

    killed_run = start("killed.log")
    _wait_for_line(tmp_path / "killed.log", "Running Trial #2", killed_run)
    killed_run.send_signal(signal.SIGKILL)
    killed_run.wait()
    redone = _trial(project, 0)
    assert redone["status"] == "COMPLETED"
    drawn, values = stopped["hyperparameters"]["values"], redone["hyperparameters"]["values"]
    assert {name: values[name] for name in drawn} == drawn  # (batch_size is drawn in fit)
    events = _events(project / "tensorboard" / "0")
    assert events and not set(events) & set(first_events)  # the stopped run's logs are gone
    assert len({os.path.dirname(name) for name in events}) == len(events)  # one file a folder
    stamp = os.stat(project / "trial_0" / "trial.json").st_mtime_ns

    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env=child_env(), cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "Reloading Tuner" in result.stdout + result.stderr
    assert "Running Trial #1\n" not in result.stdout and "Running Trial #2\n" in result.stdout
    assert os.stat(project / "trial_0" / "trial.json").st_mtime_ns == stamp  # not redone
    assert sorted(d for d in os.listdir(project) if d.startswith("trial_")) == [
        "trial_0", "trial_1"]
    assert _trial(project, 1)["status"] == "COMPLETED"
    assert sorted(os.listdir(project / "tensorboard")) == ["0", "1"]
    model = keras.models.load_model(project / "best.keras")
    assert model.predict(np.zeros((2, 28, 28, 1), "float32"), verbose=0).shape == (2, 10)


@pytest.mark.skipif(not os.path.exists(sources.DEBIAN_FASHION_MNIST),
                    reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)")
@pytest.mark.skipif(keras.backend.backend() == "tensorflow",
                    reason="the tune command end to end on JAX and torch (on TensorFlow above)")
def test_cli_search_on_this_backend(tmp_path):
    command = [sys.executable, "-m", "keras_procrustes.cli.tune", "--dataset", "fashion_mnist",
               "--depths", "11", "--batch-sizes", "16", "--max-trials", "1", "--epochs", "1",
               "--max-train-examples", "32", "--max-test-examples", "16",
               "--directory", str(tmp_path), "--verbose", "2"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
               KERAS_BACKEND=keras.backend.backend())
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env,
                            check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    project = os.path.join(tmp_path, "procresnet")
    with open(os.path.join(project, "trial_0", "trial.json")) as handle:
        assert json.load(handle)["status"] == "COMPLETED"
    model = keras.models.load_model(os.path.join(project, "best.keras"))
    assert model.predict(np.zeros((2, 28, 28, 1), "uint8"), verbose=0).shape == (2, 10)


@pytest.mark.skipif(not os.path.exists(sources.DEBIAN_FASHION_MNIST),
                    reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)")
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="MirroredStrategy")
def test_cli_search_on_three_replicas_with_an_odd_batch_size(tmp_path):
    command = [sys.executable, "-m", "keras_procrustes.cli.tune", "--dataset", "fashion_mnist",
               "--depths", "11", "--batch-sizes", "5", "--max-trials", "1", "--epochs", "1",
               "--max-train-examples", "40", "--max-test-examples", "31", "--cpu-replicas", "3",
               "--directory", str(tmp_path), "--verbose", "2"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env,
                            check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    project = os.path.join(tmp_path, "procresnet")
    with open(os.path.join(project, "best_hyperparameters.json")) as handle:
        assert json.load(handle)["batch_size"] == 5
    model = keras.models.load_model(os.path.join(project, "best.keras"))
    assert model.predict(np.zeros((2, 28, 28, 1), "uint8"), verbose=0).shape == (2, 10)




@pytest.mark.skipif(not os.path.exists(sources.DEBIAN_FASHION_MNIST),
                    reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)")
@oracle_on_tensorflow
def test_chief_and_two_workers_finish_every_trial_once_after_a_worker_is_killed(tmp_path):
    command = [sys.executable, "-m", "keras_procrustes.cli.tune", "--dataset", "fashion_mnist",
               "--depths", "11", "--batch-sizes", "32", "--max-trials", "4", "--epochs", "2",
               "--max-train-examples", "128", "--max-test-examples", "32",
               "--directory", str(tmp_path / "search"), "--verbose", "2",
               "--oracle", f"127.0.0.1:{free_port()}"]

    def start(*role, name):
        output = open(tmp_path / f"{name}.log", "w")
        process = subprocess.Popen([*command, *role], stdout=output, stderr=subprocess.STDOUT,
                                   text=True, env=child_env(), cwd=ROOT)
        output.close()
        return process

    processes = [start("--chief", name="chief")]
    try:
        processes += [start("--worker", "a", name="a"), start("--worker", "b", name="b")]
        deadline = time.monotonic() + 300
        # a is inside a trial
        _wait_for_line(tmp_path / "a.log", "Epoch 2/2", processes[1], deadline - time.monotonic())
        processes[1].kill()
        processes[1].wait()
        processes.append(start("--worker", "a", name="a-again"))
        for process in processes[2:] + processes[:1]:
            process.wait(timeout=max(1, deadline - time.monotonic()))
            assert process.returncode == 0, [
                (tmp_path / f"{n}.log").read_text()[-2000:] for n in ("chief", "b", "a-again")]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
    project = tmp_path / "search" / "procresnet"
    trials = sorted(d for d in os.listdir(project) if d.startswith("trial_"))
    assert trials == ["trial_0", "trial_1", "trial_2", "trial_3"]  # no trial twice
    for trial in trials:
        with open(project / trial / "trial.json") as handle:
            assert json.load(handle)["status"] == "COMPLETED"
    # The restarted worker took up the killed one's trial and ran to the end.
    assert "no trials left" in (tmp_path / "a-again.log").read_text()
    assert os.path.exists(project / "best.keras") and os.path.exists(project / "worker-a.json")


def test_trials_pad_raw_arrays_to_the_image_size_of_the_model(tmp_path):
    """`tune --image-size 40`: the trials' pipelines resize the raw arrays as the model expects."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (32, 8, 8, 1), dtype="uint8")  # grey, raw, as the sources give
    y = (x.mean(axis=(1, 2, 3)) > 127).astype("int32")
    hypermodel = hypermodels.ProcrustesResNetHyperModel((12, 12, 3), 2, depths=(11,), batch_sizes=(16,),
                                                   image_size=12, channels=3)
    hp = keras_tuner.HyperParameters()
    history = hypermodel.fit(hp, hypermodel.build(hp), x, y, validation_data=(x, y), epochs=1,
                             verbose=0)
    assert np.isfinite(history.history["val_loss"][0])


def test_a_search_whose_trials_all_failed_says_why(tmp_path):
    from keras_procrustes.training.errors import RunStateError
    from keras_procrustes.training.search import driver as search_driver

    x, y = _arrays(16)  # 8 x 8 images for a model of 12 x 12: every trial fails
    hypermodel = hypermodels.ProcrustesResNetHyperModel((12, 12, 3), 2, depths=(11,), batch_sizes=(16,))
    tuner = hypermodels.make_tuner(hypermodel, max_trials=1, directory=str(tmp_path), project_name="p")
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    with pytest.raises(RunStateError, match="no trial .* completed: the last failed with "
                                            ".*expected shape=.*12, 12, 3"):
        search_driver._save_best(tuner, str(tmp_path / "p"))
    assert not os.path.exists(tmp_path / "p" / "best.keras")
