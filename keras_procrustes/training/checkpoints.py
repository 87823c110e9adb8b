"""A run's saved state: the epoch backup and the best model, written atomically.

Every file here is written under a temporary name and moved into place, and
a backup's metadata is written last: a run killed at any moment leaves the
previous complete state. A write that fails (a full disk, Ctrl-C) deletes
its temporary file. Only files of the names written here are deleted.
"""

import contextlib
import errno
import json
import math
import os
import re
import shutil

import keras
import numpy as np

from keras_procrustes.checks import is_positive_int
from keras_procrustes.training import across_processes

BACKUP_DIR = "backup"
BACKUP_METADATA = "backup.json"
BEST_MODEL = "best.keras"
BEST_METADATA = "best.json"
_BACKUP_WEIGHTS = re.compile(r"epoch-\d{4,}\.weights\.h5")


class RunStateError(Exception):
    """A run's saved state can't be used; the message says what to do."""


class DiskFullError(RunStateError):
    """The disk filled up while a file was written; the message names the file."""


def is_disk_full(error):
    """Whether `error` is an `OSError` of a full disk (`ENOSPC`, also as h5py words it)."""
    return isinstance(error, OSError) and (
        error.errno == errno.ENOSPC or "No space left on device" in str(error))


def disk_full(path):
    """The `DiskFullError` of a write of `path`."""
    return DiskFullError(f"the disk is full: {path} could not be written. The files written "
                         "before are intact: free some space and rerun the same command")


@contextlib.contextmanager
def writing(path, partial=None):
    """Writes `path` through a temporary file, moved into place when complete.

    On any error (a full disk, Ctrl-C) the temporary file is deleted and
    `path` keeps what it held.

    Args:
        path: the file to write.
        partial: the temporary file (default `path.partial`); `path` itself
            for a new file of its own name, deleted if the write fails.

    Yields:
        The path to write to.

    Raises:
        DiskFullError: when the disk is full.
    """
    partial = partial or f"{path}.partial"
    try:
        yield partial
        if partial != path:
            os.replace(partial, path)
    except BaseException as error:
        if partial.endswith(".h5"):
            _close_hdf5(partial)
        with contextlib.suppress(OSError):
            os.remove(partial)
        if is_disk_full(error):
            raise disk_full(path) from None
        raise


def _close_hdf5(path):
    """Closes the HDF5 file `path` that a failed write left open.

    Keras leaves it open when a write fails; h5py would retry its writes when
    the file object is collected, print each failure, and can crash the
    process at exit.
    """
    import h5py

    for file_id in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
        if os.path.abspath(os.fsdecode(file_id.name)) == os.path.abspath(path):
            with contextlib.suppress(Exception):  # its last flush fails too: nothing to keep
                h5py.File(file_id).close()


def check_space(path, model):
    """Refuses to save `model` to `path` when the disk can't hold it.

    HDF5 (under Keras' weights files) does not fail cleanly on a full disk:
    it prints an error for each object it frees and can crash the process.
    So the free space is checked first, for the model's and the optimizer's
    variables with a margin.

    Args:
        path: the file to write.
        model: the model to save.

    Raises:
        DiskFullError: when the disk has less free space than that.
    """
    variables = list(model.variables)
    if model.optimizer is not None:
        variables += list(model.optimizer.variables)
    needed = sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in variables)
    if shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free < 1.2 * needed + 2**18:
        raise disk_full(path)


def write_json(path, value):
    """Writes JSON to `path` atomically (a temporary file, then a rename)."""
    with writing(path) as partial, open(partial, "w") as handle:
        json.dump(value, handle, indent=2)


def read_json(path, what):
    """The JSON value in `path`.

    Args:
        path: a JSON file of the run folder.
        what: what the file is, for the message.

    Returns:
        The decoded value.

    Raises:
        RunStateError: when the file can't be read or decoded.
    """
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise RunStateError(f"{what} {path} can't be read ({error})") from None


def read_backup(folder):
    """The epoch a backup resumes at, and its weights file, checked.

    Args:
        folder: a backup folder written by `RunBackup`.

    Returns:
        `(epochs_done, weights_path)`; `(0, None)` when there is no backup.

    Raises:
        RunStateError: saying what is wrong with an unusable backup.
    """
    metadata_path = os.path.join(folder, BACKUP_METADATA)
    if not os.path.exists(metadata_path):
        leftovers = [f for f in _listdir(folder) if _BACKUP_WEIGHTS.fullmatch(f)]
        if leftovers:
            raise RunStateError(
                f"the backup in {folder} has weights but no {BACKUP_METADATA}: "
                "it is incomplete"
            )
        return 0, None
    metadata = read_json(metadata_path, "the backup metadata")
    epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
    weights = metadata.get("weights") if isinstance(metadata, dict) else None
    if not is_positive_int(epoch) or not _BACKUP_WEIGHTS.fullmatch(str(weights)):
        raise RunStateError(f"the backup metadata {metadata_path} is not valid: {metadata!r}")
    weights_path = os.path.join(folder, weights)
    _check_h5(weights_path)
    return epoch, weights_path


def _check_h5(path):
    import h5py

    if not os.path.exists(path):
        raise RunStateError(f"the backup's weights file {path} is missing")
    try:
        with h5py.File(path, "r") as handle:
            handle.visit(lambda name: None)
    except (OSError, ValueError) as error:
        raise RunStateError(f"the backup's weights file {path} is corrupt ({error})") from None


def _listdir(folder):
    return os.listdir(folder) if os.path.isdir(folder) else []


def restore(model, weights_path):
    """Loads a backup's weights and optimizer state into a compiled model.

    Args:
        model: the compiled model of the run.
        weights_path: from `read_backup`.

    Raises:
        RunStateError: when the backup does not fit the model.
    """
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(weights_path)
    except Exception as error:  # h5py, shape and name mismatches
        raise RunStateError(
            f"the backup {weights_path} does not fit this model ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''})"
        ) from None


def remove_backup(folder):
    """Deletes the files `RunBackup` wrote, and the folder if then empty."""
    for name in _listdir(folder):
        if name == BACKUP_METADATA or _BACKUP_WEIGHTS.fullmatch(name):
            os.remove(os.path.join(folder, name))
    if os.path.isdir(folder) and not os.listdir(folder):
        os.rmdir(folder)


class RunBackup(keras.callbacks.Callback):
    """Backs up weights and optimizer state at every epoch's end.

    Weights go to `epoch-NNNN.weights.h5`, then `backup.json` names them
    (written atomically), then older weights files of that pattern are
    deleted. Put it last in the callback list, so that an epoch's logs and
    best model are written before the epoch counts as done.

    Args:
        folder: the backup folder (made if missing).
    """

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.folder, exist_ok=True)
        weights = f"epoch-{epoch + 1:04d}.weights.h5"
        path = os.path.join(self.folder, weights)
        check_space(path, self.model)
        with writing(path, partial=path), across_processes.local_only():
            self.model.save_weights(path, overwrite=True)
        write_json(
            os.path.join(self.folder, BACKUP_METADATA), {"epoch": epoch + 1, "weights": weights}
        )
        for name in _listdir(self.folder):
            if _BACKUP_WEIGHTS.fullmatch(name) and name != weights:
                os.remove(os.path.join(self.folder, name))


def read_best(run_dir):
    """What `best.json` says of `best.keras`, or `None` when there is none.

    Args:
        run_dir: the run folder.

    Returns:
        The record (a dict) or `None`.

    Raises:
        RunStateError: for a record that is not valid or a missing `best.keras`.
    """
    path = os.path.join(run_dir, BEST_METADATA)
    if not os.path.exists(path):
        return None
    best = read_json(path, "the best-model record")
    if not isinstance(best, dict) or not isinstance(best.get("val_accuracy"), (int, float)):
        raise RunStateError(f"the best-model record {path} is not valid: {best!r}")
    if not os.path.exists(os.path.join(run_dir, BEST_MODEL)):
        raise RunStateError(f"{path} describes {BEST_MODEL}, which is missing")
    return best


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the model with the best `val_accuracy` as `best.keras`.

    Beside it, `best.json` records the epoch and the accuracy of the saved
    model, so a summary of the run can't describe another model. Both are
    written under temporary names and moved into place.

    Args:
        run_dir: the run's folder.
        best: the record of the best model so far (`read_best`), for a
            resumed run; `None` to start afresh.
    """

    def __init__(self, run_dir, best=None):
        super().__init__()
        self.run_dir = run_dir
        self.best = best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_accuracy")
        if value is None or (self.best is not None and value <= self.best["val_accuracy"]):
            return
        best = {"epoch": epoch + 1, "val_accuracy": float(value),
                 "test_error": 1.0 - float(value)}
        partial = os.path.join(self.run_dir, "best.partial.keras")
        check_space(partial, self.model)
        with writing(os.path.join(self.run_dir, BEST_MODEL), partial):
            with across_processes.local_only():
                self.model.save(partial)
            write_json(os.path.join(self.run_dir, BEST_METADATA), best)
        self.best = best
