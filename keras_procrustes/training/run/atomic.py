"""Files written atomically: under a temporary name, moved into place when complete.

A run killed at any moment leaves the previous complete file. A write that
fails (a full disk, Ctrl-C) deletes its temporary file.
"""

import contextlib
import json
import math
import os
import shutil

import numpy as np

from keras_procrustes.training.errors import RunStateError
from keras_procrustes.training.errors import disk_full
from keras_procrustes.training.errors import is_disk_full


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
