"""How a run that stops early says so: Ctrl-C (where it stopped, what is kept) and a full disk."""

import contextlib

from keras_procrustes.training import checkpoints


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
def explained(run, epochs, guard):
    """Turns Ctrl-C and a full disk during training into errors that say what happened.

    Args:
        run: the `RunPlan`.
        epochs: the epochs of the run.
        guard: the run's `NaNGuard` (it knows the epoch and the backup folder).

    Yields:
        Nothing.

    Raises:
        RunInterrupted: for Ctrl-C.
        DiskFullError: for a full disk, naming the file being written.
    """
    try:
        yield
    except KeyboardInterrupt:
        raise RunInterrupted(run.path, guard.epoch + 1, epochs,
                             _epochs_done(guard.backup_dir)) from None
    except OSError as error:
        if checkpoints.is_disk_full(error):
            raise checkpoints.disk_full(error.filename or f"a file in {run.path}") from None
        raise
