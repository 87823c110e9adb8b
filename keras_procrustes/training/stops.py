"""How a run that stops early says so: Ctrl-C (where it stopped, what is kept) and a full disk."""

import contextlib

from keras_procrustes.training import errors
from keras_procrustes.training.errors import RunInterrupted
from keras_procrustes.training.moved import moved_names
from keras_procrustes.training.run import backup as backups
from keras_procrustes.training.run import manifest as run_manifest


def _epochs_done(backup_dir):
    if not backup_dir:
        return 0
    try:
        return backups.read_backup(backup_dir)[0]
    except errors.RunStateError:
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
            with contextlib.suppress(OSError, errors.RunStateError):
                run_manifest.mark(run.path, "interrupted")
        raise RunInterrupted(run.path, guard.epoch + 1, epochs,
                             _epochs_done(guard.backup_dir)) from None
    except OSError as error:
        if errors.is_disk_full(error):
            raise errors.disk_full(error.filename or f"a file in {run.path}") from None
        raise


__getattr__ = moved_names(__name__, {
    "CtrlCBetweenBatches": "keras_procrustes.training.callbacks.ctrl_c_between_batches"})
