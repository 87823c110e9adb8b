"""A worker of a distributed search: one process per worker ID, and a chief it never waits for forever.

keras-tuner's worker asks the chief's oracle for trials over gRPC with a
60-minute deadline per call, and asks nothing while a trial trains: after
the chief is killed, a worker waits in silence. Two workers with one ID get
the same trial from the oracle, train it twice and collide on its files.
So a worker holds a lock named by its ID in the project folder for as long
as it runs (it dies with the process, so a killed worker's restart takes
it), and a watchdog thread checks every few seconds that the chief still
listens; after `timeout` seconds without it, the worker stops with one line
naming the chief.
"""

import _thread
import contextlib
import os
import signal
import socket
import sys
import threading
import time

from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.run import names as run_names

PROBE_EVERY_S = 1.0
# After asking the main thread to stop, the watchdog waits this long for it
# (a step, a gRPC call in progress) before it ends the process itself.
GRACE_S = 30.0


def lock_path(project, worker_id):
    """The lock file of worker `worker_id` in the search's project folder."""
    return os.path.join(project, run_names.WORKER_LOCK.format(worker_id))


@contextlib.contextmanager
def worker_lock(project, worker_id):
    """Holds worker `worker_id`'s lock for the block; refuses a second holder.

    Args:
        project: the search's project folder (every process sees it).
        worker_id: the `--worker` ID.

    Yields:
        Nothing.

    Raises:
        OptionError: naming `worker`, when another live process holds the ID.
    """
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock
        yield
        return
    os.makedirs(project, exist_ok=True)
    handle = open(lock_path(project, worker_id), "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise OptionError("worker", worker_id, (
                f"worker {worker_id} is already running in this search ({holder}); give "
                "each worker its own ID (a killed worker's ID is free again)")) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


class ChiefWatch:
    """A watchdog thread: is the chief at `oracle` still listening?

    The thread stops the main thread with SIGUSR1, handled here by raising
    `KeyboardInterrupt`, not with SIGINT: a worker started in the
    background (`&`, a batch script) ignores SIGINT, and Python then cannot
    interrupt its main thread with it. It also calls `on_lost`, which asks
    a trial to stop between two batches (on JAX, Keras can catch the
    `KeyboardInterrupt` inside a step; see `callbacks.CtrlCBetweenBatches`).

    Args:
        oracle: the chief's `HOST:PORT`.
        timeout: seconds without an answer before the worker stops.
        on_lost: called (from the watchdog thread) when the chief is lost.

    Attributes:
        lost: whether the chief was not reachable for `timeout` seconds
            (then the main thread got a `KeyboardInterrupt`).
    """

    def __init__(self, oracle, timeout, on_lost=None):
        host, _, port = oracle.rpartition(":")
        self.on_lost = on_lost
        self.address = (host.strip("[]"), int(port))
        self.oracle, self.timeout = oracle, timeout
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="chief-watch", daemon=True)

    def message(self):
        """What went wrong, as an `OptionError` naming `oracle`."""
        return OptionError("oracle", self.oracle, (
            f"the chief did not answer for {self.timeout:g} s (--oracle-timeout): it was "
            "killed, ended, or never started; this worker stopped (restart the chief, "
            "then this worker with the same worker ID to retry its trial)"))

    def __enter__(self):
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGUSR1, _raise_keyboard_interrupt)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._done.set()
        if self._previous is not None:
            signal.signal(signal.SIGUSR1, self._previous)
        return False

    def _reachable(self):
        try:
            with socket.create_connection(self.address, timeout=PROBE_EVERY_S):
                return True
        except OSError:
            return False

    def _watch(self):
        last_seen = time.monotonic()
        while not self._done.wait(PROBE_EVERY_S):
            if self._reachable():
                last_seen = time.monotonic()
            elif time.monotonic() - last_seen > self.timeout:
                self.lost = True
                if self.on_lost is not None:
                    self.on_lost()
                _thread.interrupt_main(signal.SIGUSR1)
                if not self._done.wait(GRACE_S):  # the main thread did not stop
                    print(f"error: {self.message().for_command_line()}", file=sys.stderr,
                          flush=True)
                    os._exit(2)
                return


def _raise_keyboard_interrupt(signum, frame):
    """The main thread's SIGUSR1 handler while a `ChiefWatch` runs."""
    raise KeyboardInterrupt
