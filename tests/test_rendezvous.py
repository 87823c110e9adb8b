"""The meeting of a job's processes before jax.distributed, on real sockets, in threads.

`rendezvous.meet` is plain Python sockets, the same on every backend: the
processes here are threads, with a 1 s timeout (tests/test_job_start.py
starts real processes of the train command on JAX).
"""

import socket
import threading
import time

import keras
import pytest
from processes import free_port

from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.job import rendezvous

TIMEOUT_S = 1
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="plain sockets, the same on every backend: run in the TensorFlow pass (CI's time)")




def _meet_all(port, members):
    """Runs `meet` for each `(process_id, num_processes)` in a thread; returns the errors."""
    outcomes = [None] * len(members)

    def member(index, process_id, num_processes):
        try:
            rendezvous.meet(f"127.0.0.1:{port}", num_processes, process_id, TIMEOUT_S)
            outcomes[index] = "joined"
        except OptionError as error:
            outcomes[index] = error

    threads = [threading.Thread(target=member, args=(i, *m)) for i, m in enumerate(members)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S + rendezvous.VERDICT_MARGIN_S + 10)
        assert not thread.is_alive()
    return outcomes


def test_every_process_joins_and_the_port_is_free_again():
    port = free_port()
    assert _meet_all(port, [(0, 3), (1, 3), (2, 3)]) == ["joined"] * 3
    with socket.socket() as again:  # jax.distributed's service binds it next
        again.bind(("127.0.0.1", port))


def test_a_missing_process_is_named_on_process_0_and_the_others():
    started = time.monotonic()
    chief, other = _meet_all(free_port(), [(0, 3), (2, 3)])
    assert time.monotonic() - started < TIMEOUT_S + rendezvous.VERDICT_MARGIN_S + 1
    for error in (chief, other):
        assert (error.option, error.value) == ("num_processes", 3)
        assert "process 1 did not join within 1 s" in error.requirement


def test_a_duplicate_id_is_refused_on_every_process():
    errors = _meet_all(free_port(), [(0, 3), (1, 3), (1, 3)])
    for error in errors:
        assert (error.option, error.value) == ("process_id", 1), errors
        assert "two processes of the job were started with --process-id 1" in error.requirement


def test_another_job_size_is_refused():
    errors = _meet_all(free_port(), [(0, 2), (1, 3)])
    for error in errors:
        assert (error.option, error.value) == ("num_processes", 3), errors
        assert "process 0 started a job of 2 processes" in error.requirement


def test_a_busy_port_and_a_silent_coordinator_are_named():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        chief, other = _meet_all(port, [(0, 2), (1, 2)])
    assert chief.option == "coordinator" and f"port {port} is in use" in chief.requirement
    assert other.option == "coordinator"
    assert "process 0 (the coordinator) did not answer within 1 s" in other.requirement


def test_only_process_1_names_the_coordinator():
    [error] = _meet_all(free_port(), [(1, 2)])
    assert error.option == "coordinator" and "did not answer" in error.requirement


def test_one_process_does_not_listen():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        assert _meet_all(holder.getsockname()[1], [(0, 1)]) == ["joined"]


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\n\r\n", b""])
def test_a_stranger_on_the_port_is_ignored(garbage):
    port = free_port()
    result = {}
    thread = threading.Thread(target=lambda: result.update(
        outcome=_meet_all(port, [(0, 2)])))
    thread.start()
    time.sleep(0.3)
    with socket.create_connection(("127.0.0.1", port)) as stranger:
        stranger.sendall(garbage)
    assert _meet_all(port, [(1, 2)]) == ["joined"]
    thread.join()
    assert result["outcome"] == ["joined"]
