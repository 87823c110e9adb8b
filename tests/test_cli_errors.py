"""Every user error of the commands: one line naming the option and value, exit 2.

Run in-process: a bad option must be refused before any data is loaded (the
data folder given here does not exist, so reaching the data would give
another error), within seconds, leaving no file behind.
"""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import pytest

from keras_procrustes.cli import common
from keras_procrustes.cli import train as train_command
from keras_procrustes.cli import tune as tune_command
from processes import child_env


def _refused(main, argv, tmp_path, capsys):
    before = sorted(os.listdir(tmp_path))
    start = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert time.monotonic() - start < 20
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert sorted(os.listdir(tmp_path)) == before  # nothing left behind
    return err


TRAIN_CASES = [
    (["--weight-decay", "-1"], "--weight-decay -1.0"),
    (["--lr", "nan"], "--lr nan"),
    (["--lr", "0"], "--lr 0.0"),
    (["--momentum", "1"], "--momentum 1.0"),
    (["--projection-probability", "1.5"], "--projection-probability 1.5"),
    (["--model", "resnet99"], "--model resnet99"),
    (["--model", "procresnet13"], "--model procresnet13: 11 is not one of He et al.'s depths"),
    (["--model", "resnet164_bottleneck"], "say 'procresnet166' or 'resnet164_baseline'"),
    (["--model", "../x"], "--model ../x"),
    (["--cpu-replicas", "-1"], "--cpu-replicas -1"),
    (["--max-train-examples", "0"], "--max-train-examples 0"),
    (["--image-size", "0"], "--image-size 0"),
    (["--epochs", "0"], "--epochs 0"),
    (["--batch-size", "x"], "--batch-size"),
    (["--dataset", "mnist"], "--dataset mnist"),
    (["--existing", "overwrite"], "--existing overwrite"),
    (["--grad-norm-every", "-2"], "--grad-norm-every -2"),
    (["--mixed-precision", "fp8"], "--mixed-precision fp8"),
    (["--projection-engine", "qr"], "--projection-engine qr"),
    (["--coordinator", "nohost"], "--coordinator nohost"),
    (["--init-timeout", "0"], "--init-timeout 0: must be an int from 1 to 2147483647 (seconds)"),
    # Counts too large for the 32-bit step counters and tf.data sizes: named before any run.
    (["--epochs", "1" + "0" * 21], f"--epochs 1{'0' * 21}: must be an int from 1 to 2147483647"),
    (["--batch-size", "2147483648"], "--batch-size 2147483648: must be an int from 1"),
    (["--max-test-examples", "1" + "0" * 21], f"--max-test-examples 1{'0' * 21}"),
    (["--grad-norm-every", "1" + "0" * 21], f"--grad-norm-every 1{'0' * 21}"),
]


def test_missing_data_dir_is_named_as_the_option(tmp_path, capsys):
    absent = tmp_path / "absent"
    err = _refused(train_command.main, ["--data-dir", str(absent), "--epochs", "1",
                                        "--log-dir", str(tmp_path / "run")], tmp_path, capsys)
    assert f"--data-dir {absent}: does not exist" in err


@pytest.mark.parametrize("port", ["abc", "99999", "0"])
def test_bad_keras_tuner_oracle_port_variable(tmp_path, capsys, monkeypatch, port):
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", port)
    err = _refused(tune_command.main, ["--directory", str(tmp_path)], tmp_path, capsys)
    assert f"KERASTUNER_ORACLE_PORT={port}: must be a port" in err


def test_keras_tuner_variables_missing_one(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KERASTUNER_TUNER_ID", raising=False)
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    err = _refused(tune_command.main, ["--directory", str(tmp_path)], tmp_path, capsys)
    assert "needs KERASTUNER_TUNER_ID" in err


def test_a_bad_keras_tuner_worker_id_variable_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner 0")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    err = _refused(tune_command.main, ["--directory", str(tmp_path)], tmp_path, capsys)
    assert "KERASTUNER_TUNER_ID=tuner 0: must be letters, digits" in err


@pytest.mark.parametrize("extra, named", TRAIN_CASES)
def test_train_option_errors(tmp_path, capsys, extra, named):
    argv = ["--dataset", "cifar10", "--data-dir", str(tmp_path / "absent"),
            "--log-dir", str(tmp_path / "run"), *extra]
    err = _refused(train_command.main, argv, tmp_path, capsys)
    assert named in err


def test_log_dir_that_is_a_file_or_under_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("a user's file")
    for log_dir in (tmp_path / "file", tmp_path / "file" / "run"):
        err = _refused(train_command.main, ["--log-dir", str(log_dir)], tmp_path, capsys)
        assert f"--log-dir {log_dir}" in err
    assert (tmp_path / "file").read_text() == "a user's file"


def test_log_dir_whose_name_is_too_long_for_the_file_system(tmp_path, capsys):
    log_dir = tmp_path / ("\u00fc" * 140)  # 280 bytes in UTF-8: over a file name's 255
    err = _refused(train_command.main, ["--log-dir", str(log_dir)], tmp_path, capsys)
    assert err.startswith(f"keras-procrustes-train: error: --log-dir {log_dir}: can't be made: "
                          "a name in it is too long")


def test_log_dir_holding_foreign_files_is_refused(tmp_path, capsys):
    backup = tmp_path / "run" / "backup"
    backup.mkdir(parents=True)
    (backup / "notes.txt").write_text("mine")
    err = _refused(train_command.main, ["--log-dir", str(tmp_path / "run")], tmp_path, capsys)
    assert "not a run of this package" in err and "--existing new" in err
    assert (backup / "notes.txt").read_text() == "mine"


def test_a_name_that_changed_meaning_is_refused_on_an_old_run(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    manifest = {"status": "running", "options": {"model": "resnet164"}}  # as 0.1 wrote it
    (run / "keras_procrustes_run.json").write_text(json.dumps(manifest))
    err = _refused(train_command.main, ["--model", "resnet164", "--log-dir", str(run)],
                   tmp_path, capsys)
    assert "--model resnet164: means 'procresnet166' now; the unfinished run in" in err
    assert "rerun with --model resnet164_baseline to resume it" in err


TUNE_CASES = [
    (["--batch-sizes", "0"], "--batch-sizes 0"),
    (["--max-train-examples", "0"], "--max-train-examples 0"),
    (["--image-size", "0"], "--image-size 0"),
    (["--depths", "165"], "--depths 165"),
    (["--tuner", "grid"], "--tuner grid"),
    (["--cpu-replicas", "-1"], "--cpu-replicas -1"),
    (["--project-name", "."], "--project-name ."),
    (["--project-name", "../elsewhere"], "--project-name ../elsewhere"),
    (["--chief", "--oracle", "nohost"], "--oracle nohost"),
    (["--worker", "a"], "--worker a: needs --oracle HOST:PORT"),
    (["--chief"], "--chief needs --oracle HOST:PORT"),
    (["--objective", "bogus"], "--objective bogus: must be one of val_accuracy, val_loss"),
    (["--block-type", "foo"], "--block-type foo: must be one of bottleneck, basic"),
    (["--worker", "the-chief", "--oracle", "h:1"], "--worker the-chief"),
    (["--oracle", "h:1"], "--oracle h:1"),
    (["--oracle-timeout", "0"], "--oracle-timeout 0: must be a positive int (seconds)"),
]


@pytest.mark.parametrize("extra, named", TUNE_CASES)
def test_tune_option_errors(tmp_path, capsys, extra, named):
    argv = ["--dataset", "cifar10", "--data-dir", str(tmp_path / "absent"),
            "--directory", str(tmp_path), *extra]
    err = _refused(tune_command.main, argv, tmp_path, capsys)
    assert named in err


def test_tune_project_dot_with_overwrite_deletes_nothing(tmp_path, capsys):
    (tmp_path / "thesis.tex").write_text("years of work")
    argv = ["--directory", str(tmp_path), "--project-name", ".", "--overwrite"]
    _refused(tune_command.main, argv, tmp_path, capsys)
    assert (tmp_path / "thesis.tex").read_text() == "years of work"


def test_tune_overwrite_of_a_folder_not_made_here_is_refused(tmp_path, capsys):
    project = tmp_path / "procresnet"
    project.mkdir()
    (project / "oracle.json").write_text("{}")  # someone else's keras-tuner project
    err = _refused(tune_command.main, ["--directory", str(tmp_path), "--overwrite"],
                   tmp_path, capsys)
    assert "--overwrite True" in err and (project / "oracle.json").exists()


def test_corrupt_oracle_json_is_one_line(tmp_path, capsys):
    project = tmp_path / "procresnet"
    project.mkdir()
    (project / "keras_procrustes_tuning.json").write_text(json.dumps({"dataset": "cifar10"}))
    (project / "oracle.json").write_text('{"ongoing_trials": {')
    err = _refused(tune_command.main, ["--directory", str(tmp_path)], tmp_path, capsys)
    assert "oracle.json is corrupt" in err and "--overwrite" in err


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's CPU devices")
def test_cpu_replicas_on_jax_need_newton_schulz(tmp_path, capsys):
    err = _refused(train_command.main, ["--cpu-replicas", "2", "--log-dir", str(tmp_path / "r")],
                   tmp_path, capsys)
    assert "--projection-engine svd" in err and "newton_schulz" in err
    err = _refused(tune_command.main, ["--cpu-replicas", "2", "--directory", str(tmp_path)],
                   tmp_path, capsys)
    assert "--cpu-replicas 2" in err and "KERAS_BACKEND=tensorflow" in err


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="a job of processes is JAX's")
@pytest.mark.parametrize("extra, named", [
    (["--coordinator", "127.0.0.1:99999", "--num-processes", "2", "--process-id", "0"],
     "--coordinator 127.0.0.1:99999"),
    (["--coordinator", "127.0.0.1:1234", "--num-processes", "0", "--process-id", "0"],
     "--num-processes 0"),
    (["--coordinator", "127.0.0.1:1234", "--num-processes", "1" + "0" * 21, "--process-id", "0"],
     f"--num-processes 1{'0' * 21}: must be an int from 1 to 2147483647"),
    (["--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "2"],
     "--process-id 2"),
    (["--coordinator", "127.0.0.1:1234", "--num-processes", "2"],
     "KERAS_DISTRIBUTION_PROCESS_ID=x"),
])
def test_job_option_errors(tmp_path, capsys, monkeypatch, extra, named):
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "x")
    err = _refused(train_command.main, ["--log-dir", str(tmp_path / "r"), *extra],
                   tmp_path, capsys)
    assert named in err


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="a job of processes is JAX's")
@pytest.mark.parametrize("extra, environment, named", [
    ([], {"KERAS_DISTRIBUTION_NUM_PROCESSES": "abc"},
     "KERAS_DISTRIBUTION_NUM_PROCESSES=abc: must be an int from 1 to 2147483647"),
    ([], {"KERAS_DISTRIBUTION_NUM_PROCESSES": "2"},
     "KERAS_DISTRIBUTION_NUM_PROCESSES=2: needs KERAS_DISTRIBUTION_JOB_ADDRESSES"),
    (["--coordinator", "127.0.0.1:12345"], {},
     "--coordinator 127.0.0.1:12345: needs --num-processes N and --process-id I"),
    (["--coordinator", "127.0.0.1:12345", "--num-processes", "2"], {},
     "--coordinator 127.0.0.1:12345: needs --process-id I"),
])
def test_job_values_before_what_is_missing(tmp_path, capsys, monkeypatch, extra,
                                           environment, named):
    for variable in ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                     "KERAS_DISTRIBUTION_PROCESS_ID"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    err = _refused(train_command.main, ["--log-dir", str(tmp_path / "r"), *extra],
                   tmp_path, capsys)
    assert named in err


@pytest.mark.skipif(keras.backend.backend() == "tensorflow",
                    reason="TF_CONFIG ignored on JAX and torch")
def test_multi_worker_tf_config_is_refused_off_tensorflow(tmp_path, capsys, monkeypatch):
    tf_config = json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                            "task": {"type": "worker", "index": 0}})
    monkeypatch.setenv("TF_CONFIG", tf_config)
    err = _refused(train_command.main, ["--log-dir", str(tmp_path / "r")], tmp_path, capsys)
    assert f"TF_CONFIG={tf_config}: is TensorFlow's multi-worker setting" in err
    assert "--coordinator" in err and "KERAS_DISTRIBUTION_" in err


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's TF_CONFIG")
def test_multi_worker_tf_config_and_job_options_are_refused_on_tensorflow(
        tmp_path, capsys, monkeypatch):
    err = _refused(train_command.main, ["--log-dir", str(tmp_path / "r"), "--coordinator",
                                        "10.0.0.1:1234"], tmp_path, capsys)
    assert "--coordinator 10.0.0.1:1234" in err and "KERAS_BACKEND=jax" in err
    tf_config = json.dumps({"cluster": {"worker": ["a:1", "b:1"]},
                            "task": {"type": "worker", "index": 0}})
    monkeypatch.setenv("TF_CONFIG", tf_config)
    err = _refused(train_command.main, ["--log-dir", str(tmp_path / "r")], tmp_path, capsys)
    assert f"TF_CONFIG={tf_config}" in err and "MultiWorkerMirroredStrategy" in err
    assert "20585" in err


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch trains on one device")
def test_several_devices_and_processes_are_refused_on_torch(tmp_path, capsys, monkeypatch):
    log_dir = ["--log-dir", str(tmp_path / "r")]
    err = _refused(train_command.main, [*log_dir, "--cpu-replicas", "2"], tmp_path, capsys)
    assert "--cpu-replicas 2: needs KERAS_BACKEND=tensorflow or jax" in err
    err = _refused(tune_command.main, ["--cpu-replicas", "2", "--directory", str(tmp_path)],
                   tmp_path, capsys)
    assert "--cpu-replicas 2: needs KERAS_BACKEND=tensorflow" in err
    err = _refused(train_command.main, [*log_dir, "--coordinator", "127.0.0.1:1234",
                                        "--num-processes", "2", "--process-id", "0"],
                   tmp_path, capsys)
    assert "--coordinator 127.0.0.1:1234: needs KERAS_BACKEND=jax" in err
    assert "no distribution on torch" in err
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    err = _refused(train_command.main, log_dir, tmp_path, capsys)
    assert "KERAS_DISTRIBUTION_NUM_PROCESSES=2: needs KERAS_BACKEND=jax" in err


def test_an_error_after_a_progress_bar_starts_a_line_of_its_own(capsys):
    def diverge(args):
        sys.stdout.write("\r 3/16 ━━━━━━━━ 1s 80ms/step - loss: 2.3026")  # as Keras' bar
        raise FloatingPointError("The training loss became nan at epoch 1")

    with pytest.raises(SystemExit) as exit_info:
        common.run_command(train_command.build_parser, diverge, [])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out.endswith("loss: 2.3026\n")  # the bar's line ended before the error
    assert captured.err == ("keras-procrustes-train: error: The training loss became nan at "
                            "epoch 1\n")


@pytest.mark.multiprocess
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="one backend's pass starts the command (its child runs TensorFlow)")
def test_a_command_starts_quiet_unless_tensorflow_logs_are_asked_for(tmp_path):
    environment = child_env(KERAS_BACKEND="tensorflow")
    del environment["TF_CPP_MIN_LOG_LEVEL"]  # the user did not ask for TensorFlow's logs
    result = subprocess.run(
        [sys.executable, "-m", "keras_procrustes.cli.train", "--epochs", "0",
         "--log-dir", str(tmp_path / "run")],
        capture_output=True, text=True, env=environment, timeout=300, check=False)
    assert result.returncode == 2
    assert result.stderr == "keras-procrustes-train: error: --epochs 0: must be an int from 1 " \
        "to 2147483647\n"  # no absl, oneDNN or CUDA lines


@pytest.mark.multiprocess
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="one backend's pass starts the command (its child runs TensorFlow)")
def test_what_tensorflow_says_as_it_ends_the_process_is_not_lost(tmp_path):
    # A TensorFlow that aborts while it loads (as on a CPU it was not built
    # for): its last line must reach the user although the start is quiet.
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\nos.write(2, b'The TensorFlow library was compiled to use AVX "
        "instructions, but these aren\\'t available on your machine.\\n')\nos.abort()\n")
    environment = child_env(KERAS_BACKEND="tensorflow")
    del environment["TF_CPP_MIN_LOG_LEVEL"]
    environment["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{environment['PYTHONPATH']}"
    result = subprocess.run(
        [sys.executable, "-m", "keras_procrustes.cli.train", "--epochs", "1"],
        capture_output=True, text=True, env=environment, timeout=300, check=False)
    assert result.returncode == -signal.SIGABRT
    assert "compiled to use AVX instructions" in result.stderr
