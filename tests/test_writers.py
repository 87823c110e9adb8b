"""One writer per folder, and the edges where a run stops: other writers, kills, a full disk, Ctrl-C."""

import json
import math
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time

import keras
import pytest
from processes import child_env
from processes import takes_ctrl_c

from keras_procrustes.cli import train as train_command
from keras_procrustes.data import sources
from keras_procrustes.training import errors
from keras_procrustes.training.callbacks import nan_guard
from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.run import folder as run_folder
from keras_procrustes.training.run import history
from keras_procrustes.training.run import lock as folder_lock
from keras_procrustes.training.run import manifest as run_manifest
from keras_procrustes.training.run import names as run_names
from keras_procrustes.training.search import driver as search_driver
from keras_procrustes.training.search.config import SearchConfig

OPTIONS = {"model": "procresnet13_bottleneck", "dataset": "fashion_mnist", "lr": 0.1}

needs_fashion = pytest.mark.skipif(
    not os.path.exists(sources.DEBIAN_FASHION_MNIST),
    reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)")
# The commands end to end cost tens of seconds each; the folder rules they
# rely on are checked on every backend below, in-process.
command_on_tensorflow = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the commands end to end on TensorFlow")

SHORT_RUN = ["--model", "procresnet13_bottleneck", "--dataset", "fashion_mnist",
             "--batch-size", "32", "--max-test-examples", "32", "--verbose", "2"]


def _train_command(log_dir, *extra):
    return [sys.executable, "-m", "keras_procrustes.cli.train", *SHORT_RUN,
            "--log-dir", str(log_dir), *extra]


def _last_line(stderr):
    assert "Traceback" not in stderr, stderr[-3000:]
    return stderr.strip().splitlines()[-1]


def _finished_run(folder):
    folder.mkdir(parents=True)
    (folder / run_names.MANIFEST).write_text(json.dumps({"status": "finished", "options": OPTIONS}))


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    folder = tmp_path / "run"
    run = run_folder.open_run(str(folder), "resume", OPTIONS)
    assert os.path.exists(folder / run_names.LOCK_FILE)
    with pytest.raises(errors.FolderBusyError) as refused:
        run_folder.open_run(str(folder), "resume", OPTIONS)
    said = str(refused.value)
    assert str(folder) in said and "a training run (keras-procrustes-train)" in said
    assert f"pid {os.getpid()}" in said
    config = SearchConfig(directory=str(tmp_path), project_name="run")
    with pytest.raises(errors.FolderBusyError, match="a training run"):
        search_driver._lock_project(str(folder), config)  # a search started at the same moment
    run.lock.release()
    assert not os.path.exists(folder)  # made for the run, left empty: removed with the lock
    folder.mkdir()
    lock = folder_lock.acquire(str(folder), "tune")  # a search that has not marked it yet
    with pytest.raises(errors.FolderBusyError, match=r"a search \(keras-procrustes-tune\)"):
        run_folder.open_run(str(folder), "resume", OPTIONS)
    lock.release()
    lock = search_driver._lock_project(str(folder), config)
    for _ in range(2):  # marked by the search: refused by name, while it runs and after
        with pytest.raises(OptionError, match="holds a search of keras-procrustes-tune"):
            run_folder.open_run(str(folder), "resume", OPTIONS)
        lock.release()


def test_a_run_being_written_is_named_not_judged_as_an_unfinished_one(tmp_path):
    # Another writer's run has other options: while it writes, the refusal
    # names it (not "the unfinished run has 0.05"); once it is gone, the
    # options that differ.
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / run_names.MANIFEST).write_text(
        json.dumps({"status": "running", "kind": "train", "options": dict(OPTIONS, lr=0.05)}))
    writer = folder_lock.acquire(str(folder), "train")
    with pytest.raises(errors.FolderBusyError, match=f"a training run .*pid {os.getpid()}"):
        run_folder.open_run(str(folder), "resume", OPTIONS)
    writer.release()
    with pytest.raises(OptionError, match="lr=0.1: the unfinished run"):
        run_folder.open_run(str(folder), "resume", OPTIONS)
    assert sorted(os.listdir(folder)) == [run_names.MANIFEST]


def test_train_and_tune_refuse_each_others_finished_folders(tmp_path):
    _finished_run(tmp_path / "p")
    manifest_before = (tmp_path / "p" / run_names.MANIFEST).read_text()
    config = SearchConfig(directory=str(tmp_path), project_name="p")
    with pytest.raises(OptionError, match="holds a training run of keras-procrustes-train"):
        config.check()
    with pytest.raises(OptionError, match="holds a training run"):
        search_driver._lock_project(str(tmp_path / "p"), config)
    assert sorted(os.listdir(tmp_path / "p")) == [run_names.MANIFEST]  # no lock left, no marker
    assert (tmp_path / "p" / run_names.MANIFEST).read_text() == manifest_before


def test_new_runs_started_together_take_different_folders(tmp_path):
    free = str(tmp_path / "free")
    first, second = (run_folder.open_run(free, "new", OPTIONS) for _ in range(2))
    assert (first.path, second.path) == (free, f"{free}-2")
    taken = tmp_path / "taken"
    _finished_run(taken)
    (tmp_path / "taken-2").mkdir()  # an empty folder is free
    (tmp_path / "taken-3").write_text("a user's file")
    runs = [run_folder.open_run(str(taken), "new", OPTIONS) for _ in range(2)]
    assert [run.path for run in runs] == [f"{taken}-2", f"{taken}-4"]
    assert (tmp_path / "taken-3").read_text() == "a user's file"
    for run in [first, second, *runs]:
        run.lock.release()


HOLDER = textwrap.dedent("""
    import sys, time
    from keras_procrustes.training.run import folder as run_folder
    from keras_procrustes.training.run import history
    from keras_procrustes.training.run import names as run_names
    run = run_folder.open_run(sys.argv[1], "resume", {"model": "procresnet13_bottleneck"})
    print("locked", flush=True)
    time.sleep(120)
""")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="an flock, the same on every backend: run in the TensorFlow pass")
def test_a_run_killed_with_sigkill_does_not_lock_its_folder(tmp_path):
    folder = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], env=child_env(),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(errors.FolderBusyError, match=f"pid {holder.pid} on host"):
            run_folder.open_run(str(folder), "resume", OPTIONS)
    finally:
        holder.kill()
        holder.wait()
    assert os.path.exists(folder / run_names.LOCK_FILE)  # left by the killed holder
    run = run_folder.open_run(str(folder), "resume", OPTIONS)
    assert run.path == str(folder) and run.first_epoch == 0
    run.lock.release()


@needs_fashion
def test_float16_for_the_2018_form_is_one_line_before_anything_trains(tmp_path, capsys):
    argv = ["--model", "procresnet20_2018", "--dataset", "fashion_mnist", "--mixed-precision",
            "float16", "--epochs", "1", "--max-train-examples", "64", "--max-test-examples", "32",
            "--log-dir", str(tmp_path / "run")]
    previous = keras.config.dtype_policy()
    try:
        with pytest.raises(SystemExit) as exit_info:
            train_command.main(argv)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "--mixed-precision float16: can't train procresnet20_2018" in err
    assert not os.path.exists(tmp_path / "run")


def test_a_dangling_symlink_log_dir_is_one_line(tmp_path, capsys):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(SystemExit) as exit_info:
        train_command.main(["--log-dir", str(link), "--epochs", "1"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert f"--log-dir {link}: can't be made: {link} is a symbolic link to" in err
    assert sorted(os.listdir(tmp_path)) == ["link"]


def test_the_nan_stop_names_existing_new(tmp_path):
    guard = nan_guard.NaNGuard(str(tmp_path / "backup"))
    guard.on_epoch_begin(0)
    with pytest.raises(FloatingPointError, match="lower --lr and --existing new"):
        guard.on_train_batch_end(3, {"loss": math.nan})


def test_a_nan_validation_loss_stops_fit_at_that_epoch():
    # A finite training loss and a NaN validation loss: the 2018 form under
    # float16 ended its run this way, rc 0 (moving statistics in inference).
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = keras.ops.convert_to_numpy(keras.ops.ones((4, 3)))
    y = keras.ops.convert_to_numpy(keras.ops.zeros((4,), "int32"))
    history = keras.callbacks.History()
    with pytest.raises(FloatingPointError,
                       match=r"^The validation value val_loss became nan at the end of epoch 1;"):
        model.fit(x, y, validation_data=(x * math.nan, y), epochs=3, verbose=0,
                  callbacks=[nan_guard.NaNGuard(), history])
    assert history.epoch == []  # stopped before any later callback took the epoch


@needs_fashion
@command_on_tensorflow
def test_two_commands_at_once_in_one_folder_one_runs_one_is_refused(tmp_path):
    tune = [sys.executable, "-m", "keras_procrustes.cli.tune", "--dataset", "fashion_mnist",
            "--depths", "11", "--batch-sizes", "32", "--max-trials", "1", "--epochs", "1",
            "--max-train-examples", "64", "--max-test-examples", "32", "--verbose", "0",
            "--directory", str(tmp_path), "--project-name", "both"]
    commands = [_train_command(tmp_path / "both", "--epochs", "1", "--max-train-examples", "64"),
                _train_command(tmp_path / "both", "--epochs", "1", "--max-train-examples", "64",
                               "--lr", "0.05", "--seed", "1"),
                tune]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=child_env()) for command in commands]
    results = [(p.wait(timeout=600), *p.communicate()) for p in processes]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2, 2], [err[-2000:] for _, _, err in results]
    for code, _, err in results:
        if code == 2:
            line = _last_line(err)
            assert f"the folder {tmp_path / 'both'} is being written by a " in line \
                or "holds a training run" in line or "holds a search" in line, line
    winner = results.index(next(r for r in results if r[0] == 0))
    if winner < 2:  # a training run: its own options, one row per epoch, its metrics
        manifest = json.loads((tmp_path / "both" / run_names.MANIFEST).read_text())
        assert manifest["kind"] == "train" and manifest["options"]["seed"] == winner
        assert manifest["options"]["lr"] == (0.05 if winner else 0.1)
        rows = history.read_history(str(tmp_path / "both"))
        assert [row["epoch"] for row in rows] == ["0"]  # one writer: one row per epoch
        metrics = json.loads((tmp_path / "both" / "metrics.json").read_text())
        assert metrics["seed"] == winner and len(metrics["test_error_per_epoch"]) == 1
    assert not os.path.exists(tmp_path / "both" / run_names.LOCK_FILE)


def _ctrl_c_in_epoch_2(command, again_after_the_line=False):
    """Runs the train `command`, sends Ctrl-C once epoch 2 has begun; its stderr.

    The run must still be running then, and end with exit code 130. With
    `again_after_the_line`, a second Ctrl-C follows as soon as the command
    has said where it stopped (a user pressing twice), while it exits.
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=child_env(), preexec_fn=takes_ctrl_c)
    deadline = time.monotonic() + 300
    for line in process.stdout:  # wait until epoch 2 has begun
        if line.startswith("Epoch 2/3") or time.monotonic() > deadline:
            break
    time.sleep(0.3)  # inside epoch 2 (16 steps or more)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    said = []
    if again_after_the_line:
        for line in process.stderr:
            said.append(line)
            if "Resume with: " in line:
                break
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    err = "".join(said) + err
    assert process.returncode == 130, err[-3000:]
    return err


@needs_fashion
@pytest.mark.skipif(keras.backend.backend() == "tensorflow",
                    reason="on TensorFlow the whole case, resume included, runs below")
def test_ctrl_c_stops_the_run_on_this_backend(tmp_path):
    command = _train_command(tmp_path / "run", "--epochs", "3", "--max-train-examples", "2048")
    err = _ctrl_c_in_epoch_2(command, again_after_the_line=True)
    assert "interrupted in epoch 2 of 3" in _last_line(err) and "Traceback" not in err
    assert "Exception ignored" not in err and "KeyboardInterrupt" not in err
    manifest = json.loads((tmp_path / "run" / run_names.MANIFEST).read_text())
    assert manifest["status"] == "interrupted"


@needs_fashion
@command_on_tensorflow
def test_ctrl_c_mid_epoch_says_where_and_the_command_that_resumes(tmp_path):
    taken = tmp_path / "run"
    _finished_run(taken)  # so --existing new trains in run-2: the resume must name it
    command = _train_command(taken, "--epochs", "3", "--max-train-examples", "512",
                             "--existing", "new", "--seed", "4")
    err = _ctrl_c_in_epoch_2(command)
    line = _last_line(err)
    new_dir = f"{taken}-2"
    assert f"interrupted in epoch 2 of 3; the backup of epoch 1 in {new_dir} is kept" \
        in line, line
    resume = shlex.split(line.split("Resume with: ", 1)[1])
    assert resume[:3] == [sys.executable, "-m", "keras_procrustes.cli.train"]
    assert resume[resume.index("--log-dir") + 1] == new_dir and "--existing" not in resume
    assert not [n for n in os.listdir(new_dir) if "partial" in n or n == run_names.LOCK_FILE]
    assert run_manifest.read_manifest(new_dir)["status"] == "interrupted"
    result = subprocess.run(resume, capture_output=True, text=True, timeout=600, env=child_env(),
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(open(os.path.join(new_dir, "metrics.json")).read())
    assert metrics["resumed_from_epoch"] == 1 and metrics["seed"] == 4
    assert metrics["epochs_done"] == 3 and len(metrics["test_error_per_epoch"]) == 3


@needs_fashion
@command_on_tensorflow
@pytest.mark.parametrize("command", ["train", "tune"])
def test_three_replicas_with_fewer_images_than_a_global_batch(tmp_path, command):
    if command == "train":
        argv = _train_command(tmp_path / "run", "--epochs", "1")
    else:
        argv = [sys.executable, "-m", "keras_procrustes.cli.tune", "--dataset", "fashion_mnist",
                "--depths", "11", "--batch-sizes", "16", "32", "--max-trials", "1",
                "--epochs", "1", "--directory", str(tmp_path)]
    result = subprocess.run([*argv, "--cpu-replicas", "3", "--max-train-examples", "64"],
                            capture_output=True, text=True, timeout=300, env=child_env(),
                            check=False)
    assert result.returncode == 2, result.stderr[-3000:]
    line = _last_line(result.stderr)
    flag = "--batch-size 32" if command == "train" else "--batch-sizes 16 32"
    assert f"{flag}: the global batch" in line and "96" in line and "64 training images" in line
    assert os.listdir(tmp_path) == []  # the folder it made for the run is gone again


def _mount_tmpfs(folder, size):
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                            capture_output=True, text=True, check=False)
    return result.returncode == 0


@needs_fashion
@command_on_tensorflow
@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                    reason="mounting a small tmpfs (a disk that fills up) needs root")
def test_a_full_disk_is_one_line_keeps_the_state_and_the_rerun_resumes(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount_tmpfs(disk, "3M"):
        pytest.skip("mount -t tmpfs is not allowed here")
    try:
        command = _train_command(disk / "run", "--epochs", "2", "--max-train-examples", "128")
        result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                env=child_env(), check=False)
        assert result.returncode == 2, result.stderr[-3000:]
        line = _last_line(result.stderr)
        assert "the disk is full: " in line and f"{disk / 'run'}/" in line, line
        left = [os.path.join(d, n) for d, _, names in os.walk(disk) for n in names]
        assert not [name for name in left if "partial" in name], left
        backup = json.loads((disk / "run" / "backup" / "backup.json").read_text())
        assert backup["epoch"] == 1  # epoch 1's state, complete
        best = json.loads((disk / "run" / "best.json").read_text())
        assert keras.models.load_model(disk / "run" / "best.keras").output_shape == (None, 10)
        subprocess.run(["mount", "-o", "remount,size=40M", str(disk)], check=True)
        result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                env=child_env(), check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        metrics = json.loads((disk / "run" / "metrics.json").read_text())
        assert metrics["resumed_from_epoch"] == 1 and metrics["epochs_done"] == 2
        assert len(metrics["test_error_per_epoch"]) == 2
        assert metrics["best_test_error"] <= best["test_error"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_write_that_fails_leaves_no_partial_file(tmp_path):
    from keras_procrustes.training import errors
    from keras_procrustes.training.run import atomic

    path = tmp_path / "state.json"
    atomic.write_json(str(path), {"epoch": 1})
    with pytest.raises(KeyboardInterrupt):
        with atomic.writing(str(path)) as partial:
            with open(partial, "w") as handle:
                handle.write('{"epo')
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ["state.json"]
    assert json.loads(path.read_text()) == {"epoch": 1}
    assert errors.is_disk_full(OSError(28, "No space left on device"))
