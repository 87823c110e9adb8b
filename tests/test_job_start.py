"""A job of JAX processes that can't start ends on every process, in one line, within --init-timeout.

Real processes of the train command on 127.0.0.1 (JAX pass only; Keras has
no job of processes on TensorFlow or torch). Each case: every process must
end within the init timeout (2 s here) plus its start-up, with exit code 2
and one error line naming what is wrong. A hang fails the test at
`DEADLINE_S` instead of stalling CI.
"""

import json
import os
import socket
import subprocess
import sys
import time

import keras
import pytest

from keras_procrustes.data import sources
from harness import error_line
from processes import ROOT, child_env, free_port

pytestmark = [
    pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution on JAX"),
    pytest.mark.skipif(not os.path.exists(sources.DEBIAN_FASHION_MNIST),
                       reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)"),
    pytest.mark.multiprocess,
]

INIT_TIMEOUT_S = 2
# Start-up (imports, data) on a loaded 2-core machine, plus the timeout.
DEADLINE_S = 120
OPTIONS = ["--model", "procresnet13_bottleneck", "--dataset", "fashion_mnist", "--epochs", "2",
           "--batch-size", "8", "--max-train-examples", "32", "--max-test-examples", "16",
           "--projection-engine", "newton_schulz", "--verbose", "2"]


def _job(tmp_path, port, process_ids, num_processes=2, log_dir=None,
         init_timeout=INIT_TIMEOUT_S):
    """Runs one train command per id; returns `[(exit code, output)]` once all end."""
    log_dir = log_dir or tmp_path / "run"
    started = []
    for index, process_id in enumerate(process_ids):
        command = [sys.executable, "-m", "keras_procrustes.cli.train", *OPTIONS,
                   "--init-timeout", str(init_timeout),
                   "--log-dir", str(log_dir), "--coordinator", f"127.0.0.1:{port}",
                   "--num-processes", str(num_processes), "--process-id", str(process_id)]
        started.append(subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True,
                                        env=child_env(KERAS_BACKEND="jax"),
                                        cwd=ROOT))
    deadline = time.monotonic() + DEADLINE_S
    results = []
    try:
        for process in started:
            output, _ = process.communicate(timeout=max(1, deadline - time.monotonic()))
            results.append((process.returncode, output))
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def _error_line(result):
    """The one error line of a process that ended in a user error."""
    code, output = result
    assert code == 2, output[-3000:]
    return error_line(output, "keras-procrustes-train", also_absent=["Check failure"])


def test_process_id_out_of_range_is_refused_before_the_job_starts(tmp_path):
    started = time.monotonic()
    [result] = _job(tmp_path, free_port(), [5])
    assert "--process-id 5: must be an int from 0 to 1" in _error_line(result)
    assert not (tmp_path / "run").exists()
    assert time.monotonic() - started < DEADLINE_S


def test_only_process_1_names_the_missing_coordinator(tmp_path):
    port = free_port()
    [result] = _job(tmp_path, port, [1])
    line = _error_line(result)
    assert f"--coordinator 127.0.0.1:{port}: process 0 (the coordinator) did not answer " \
           f"within {INIT_TIMEOUT_S} s" in line


def test_two_processes_with_id_0_name_the_busy_port_and_the_missing_process(tmp_path):
    port = free_port()
    lines = sorted(_error_line(result) for result in _job(tmp_path, port, [0, 0]))
    # One is process 0 and waits for process 1; the other finds the port taken.
    assert f"--coordinator 127.0.0.1:{port}: port {port} is in use" in lines[0]
    assert "a second process started with --process-id 0" in lines[0]
    assert f"--num-processes 2: process 1 did not join within {INIT_TIMEOUT_S} s" in lines[1]


# Three processes with a duplicate id 1 are refused on every process: the
# same meeting, tested in threads in tests/test_rendezvous.py.


def test_busy_coordinator_port_is_named_and_process_1_ends_too(tmp_path):
    with socket.socket() as holder:  # another program on the port, not answering
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        chief, other = _job(tmp_path, port, [0, 1])
    line = _error_line(chief)
    assert f"--coordinator 127.0.0.1:{port}: port {port} is in use on this host" in line
    assert "did not answer within" in _error_line(other)


def test_rerun_on_more_processes_than_the_backup_ends_every_process(tmp_path):
    log_dir = tmp_path / "run"
    options = {"model": "procresnet13_bottleneck", "dataset": "fashion_mnist", "epochs": 2,
               "batch_size": 8, "max_train_examples": 32, "max_test_examples": 16,
               "projection_engine": "newton_schulz", "verbose": 2, "log_dir": str(log_dir)}
    child = os.path.join(ROOT, "tests", "children", "killed_after_epoch.py")
    first = subprocess.run([sys.executable, child, json.dumps(options)], capture_output=True,
                           text=True, env=child_env(KERAS_BACKEND="jax"), cwd=ROOT,
                           timeout=DEADLINE_S, check=False)
    assert first.returncode == 3, first.stdout[-2000:] + first.stderr[-2000:]
    with open(log_dir / "backup" / "backup.json") as handle:
        assert json.load(handle)["epoch"] == 1

    # Process 0 alone reads the folder: the others learn its refusal, or train
    # on and wait for it in a collective step (the hang this checks).
    # (a timeout long enough for both to start: they must meet)
    chief, other = _job(tmp_path, free_port(), [0, 1], 2, log_dir=log_dir, init_timeout=60)
    assert f"the run in {log_dir} trained on 1 replica(s) and this machine gives 2" \
        in _error_line(chief)
    assert f"process 0 can't use the run folder {log_dir}" in _error_line(other)
