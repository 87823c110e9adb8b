"""A distributed keras-tuner search never waits forever: a lost chief, a worker ID twice.

Real processes of the tune command on 127.0.0.1, launched keras-tuner's
way (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`):
a chief and worker `tuner0` in a trial, on one `--directory`; then a second
worker `tuner0`, launched with `--worker tuner0` (refused in one line, while
the first goes on), then the chief killed (worker `tuner0` stops within
--oracle-timeout, 3 s here, in one line naming the chief). test_tuning runs
a search launched with the flags. keras-tuner's gRPC is the same on every
backend: TensorFlow only, to keep CI short. Every process has a deadline and
is killed when the module ends.
"""

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
    pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                       reason="keras-tuner's distributed search checked on TensorFlow"),
    pytest.mark.skipif(not os.path.exists(sources.DEBIAN_FASHION_MNIST),
                       reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)"),
    pytest.mark.xdist_group("search_waits"),  # one worker runs the module's search
    pytest.mark.multiprocess,
]

ORACLE_TIMEOUT_S = 3
DEADLINE_S = 240




def _listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait(condition, process, log, deadline):
    while not condition():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)


def _error_line(log):
    """The tune command's one error line in `log` (a path)."""
    return error_line(log.read_text(), "keras-procrustes-tune", also_absent=["BlockingIOError"])


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """A chief and worker `a`, inside a trial; every process killed at the end."""
    tmp_path = tmp_path_factory.mktemp("search")
    port = free_port()
    command = [sys.executable, "-m", "keras_procrustes.cli.tune", "--dataset", "fashion_mnist",
               "--depths", "11", "--batch-sizes", "32", "--max-trials", "2", "--epochs", "50",
               "--max-train-examples", "64", "--max-test-examples", "32",
               "--directory", str(tmp_path / "search"), "--verbose", "2",
               "--oracle-timeout", str(ORACLE_TIMEOUT_S)]
    processes = {}

    def start(name, *role, tuner_id=None):
        """Starts a process: with `role` flags, or keras-tuner's variables for `tuner_id`."""
        env = child_env()
        if tuner_id is not None:
            env.update(KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP="127.0.0.1",
                       KERASTUNER_ORACLE_PORT=str(port))
        else:
            role += ("--oracle", f"127.0.0.1:{port}")
        log = tmp_path / f"{name}.log"
        with open(log, "w") as output:
            processes[name] = subprocess.Popen([*command, *role], stdout=output,
                                               stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        return processes[name], log

    deadline = time.monotonic() + DEADLINE_S
    try:
        chief, chief_log = start("chief", tuner_id="chief")
        _wait(lambda: _listening(port), chief, chief_log, deadline)
        worker, worker_log = start("a", tuner_id="tuner0")
        _wait(lambda: "Epoch 1/" in worker_log.read_text(), worker, worker_log, deadline)
        yield {"start": start, "processes": processes, "tmp_path": tmp_path,
               "deadline": deadline}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()


def test_second_worker_with_the_same_id_is_refused(search):
    twin, log = search["start"]("a-twin", "--worker", "tuner0")  # the flags' way, one ID
    twin.wait(timeout=max(1, search["deadline"] - time.monotonic()))
    assert twin.returncode == 2, log.read_text()[-3000:]
    assert "--worker tuner0: worker tuner0 is already running in this search (pid " \
        in _error_line(log)
    assert search["processes"]["a"].poll() is None  # the first goes on with its trial
    assert "Epoch 1/" not in log.read_text()


def test_worker_stops_naming_the_chief_when_the_chief_is_killed(search):
    processes, tmp_path = search["processes"], search["tmp_path"]
    processes["chief"].kill()
    killed = time.monotonic()
    processes["a"].wait(timeout=max(1, search["deadline"] - killed))
    # The watchdog probes every second; a training step ends within seconds.
    assert time.monotonic() - killed < ORACLE_TIMEOUT_S + 20
    assert processes["a"].returncode == 2, (tmp_path / "a.log").read_text()[-3000:]
    line = _error_line(tmp_path / "a.log")
    assert "KERASTUNER_ORACLE_IP=127.0.0.1: the chief did not answer for " \
        f"{ORACLE_TIMEOUT_S} s" in line
    assert all(process.poll() is not None for process in processes.values())
