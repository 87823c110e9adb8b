"""How a run that stops early says so: Ctrl-C (where it stopped, what is kept) and a full disk."""

import contextlib
import signal
import threading

import keras

from keras_procrustes.training import checkpoints
from keras_procrustes.training import rundir


class RunInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C (a `KeyboardInterrupt`); the message says where.

    Attributes:
        run_dir: the run's folder, to resume in.
        epoch: the epoch that was running (1-based).
        epochs_done: the epochs its backup holds (0: none).
    """

    def __init__(self, run_dir, epoch, epochs, epochs_done):
        self.run_dir, self.epoch, self.epochs_done = run_dir, epoch, epochs_done
        if epochs_done:
            kept = f"the backup of epoch {epochs_done} in {run_dir} is kept"
        else:
            kept = f"no epoch had finished, so {run_dir} has no backup"
        super().__init__(f"interrupted in epoch {epoch} of {epochs}; {kept}")

    def __str__(self):
        return self.args[0]


def _epochs_done(backup_dir):
    if not backup_dir:
        return 0
    try:
        return checkpoints.read_backup(backup_dir)[0]
    except checkpoints.RunStateError:
        return 0


@contextlib.contextmanager
def explained(run, epochs, guard, chief=True):
    """Turns Ctrl-C and a full disk during training into errors that say what happened.

    After Ctrl-C the run's manifest says `"interrupted"` (a rerun resumes it).

    Args:
        run: the `RunPlan`.
        epochs: the epochs of the run.
        guard: the run's `NaNGuard` (it knows the epoch and the backup folder).
        chief: whether this process writes the run folder (process 0 of a job).

    Yields:
        Nothing.

    Raises:
        RunInterrupted: for Ctrl-C.
        DiskFullError: for a full disk, naming the file being written.
    """
    try:
        yield
    except KeyboardInterrupt:
        if chief:
            with contextlib.suppress(OSError, checkpoints.RunStateError):
                rundir.mark(run.path, "interrupted")
        raise RunInterrupted(run.path, guard.epoch + 1, epochs,
                             _epochs_done(guard.backup_dir)) from None
    except OSError as error:
        if checkpoints.is_disk_full(error):
            raise checkpoints.disk_full(error.filename or f"a file in {run.path}") from None
        raise


class CtrlCBetweenBatches(keras.callbacks.Callback):
    """Takes Ctrl-C between two batches, where no library code can lose it.

    Python's own SIGINT handler raises `KeyboardInterrupt` wherever the main
    thread is. Keras turns each batch's logs into floats inside a bare
    `except:` (`keras.src.utils.python_utils.pythonify_logs`, Keras 3.15),
    and on JAX that conversion is where the main thread waits for the step:
    the interrupt is caught there and training goes on. While this callback
    is entered as a context manager, the first Ctrl-C is only recorded, and
    raised as `KeyboardInterrupt` at the next batch, evaluation batch or
    epoch; a second Ctrl-C raises at once. It takes over SIGINT only in the
    main thread and only from Python's default handler: a process that
    ignores SIGINT (started with `&`) or handles it itself keeps doing so.

    Example:
    >>> ctrl_c = CtrlCBetweenBatches()
    >>> with ctrl_c:
    ...     model.fit(x, y, callbacks=[ctrl_c])
    """

    def __init__(self):
        super().__init__()
        self.requested = False
        self._previous = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._record)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def request(self):
        """Asks for the stop at the next batch, as a first Ctrl-C does (any thread)."""
        self.requested = True

    def _record(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.request()

    def _raise_if_requested(self, *args, **kwargs):
        if self.requested:
            raise KeyboardInterrupt

    on_epoch_begin = on_train_batch_begin = on_test_batch_begin = _raise_if_requested

    def __deepcopy__(self, memo):
        """This instance: its SIGINT handler is bound to it (keras-tuner copies callbacks)."""
        return self
