"""One writer per folder: a run folder or a search project is locked by the process that writes it.

The lock is `fcntl.flock` on `keras_procrustes.lock` inside the folder, held
open for the whole run; the operating system drops it when the process ends,
however it ends (even `kill -9`), so a killed run never locks its folder for
good. The file records the holder (pid, host, `train` or `tune`) for the
message a second writer gets. POSIX only (Linux, macOS): `fcntl` has no
Windows form, and there the folder is not locked. On NFS, `flock` locks are
local to each machine on older Linux kernels.
"""

import errno
import json
import os
import socket

from keras_procrustes.training.errors import FolderBusyError
from keras_procrustes.training.run.names import LOCK_FILE

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

KINDS = {"train": "a training run (keras-procrustes-train)",
         "tune": "a search (keras-procrustes-tune)"}


class FolderLock:
    """A held lock on a folder; `release` (or the end of a `with`) gives it up.

    Attributes:
        folder: the locked folder.
        kind: `"train"` or `"tune"`.
        made_folder: the outermost folder this process made for `folder`
            (`folder` or a parent of it), or `None`; `release` deletes those
            it made if nothing else was written there.
    """

    def __init__(self, folder, kind, handle):
        self.folder, self.kind, self._handle = folder, kind, handle
        self.made_folder = None

    def release(self):
        """Deletes the lock file and gives the lock up (once; later calls do nothing)."""
        if self._handle is None:
            return
        try:
            os.remove(os.path.join(self.folder, LOCK_FILE))
            self._remove_made_folders()
        except OSError:
            pass  # the folder was moved away, or holds files: kept
        self._handle.close()
        self._handle = None

    def _remove_made_folders(self):
        folder = os.path.abspath(self.folder)
        outermost = os.path.abspath(self.made_folder) if self.made_folder else None
        while outermost and not os.listdir(folder):
            os.rmdir(folder)
            if folder == outermost:
                return
            folder = os.path.dirname(folder)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()


class NoLock(FolderLock):
    """What a process that writes no folder holds (the other processes of a job)."""

    def __init__(self):
        super().__init__(None, None, None)


def make_and_acquire(folder, kind):
    """Makes `folder` (and its parents) if needed, and locks it (`acquire`).

    Returns:
        A `FolderLock` whose `release` deletes the folders made here if
        they are still empty.

    Raises:
        FolderBusyError: when another process holds the folder.
    """
    made = None
    parent = os.path.abspath(folder)
    while not os.path.isdir(parent):
        made, parent = parent, os.path.dirname(parent)
    os.makedirs(folder, exist_ok=True)
    lock = acquire(folder, kind)
    lock.made_folder = made
    return lock


def acquire(folder, kind):
    """Locks `folder` for this process, or says who holds it.

    The folder must exist. After the lock is taken, the lock file is checked
    to be the one in the folder (a holder that finished deletes its file, so
    a process that opened the old one tries again).

    Args:
        folder: the folder to write.
        kind: `"train"` or `"tune"`, recorded for the other writers' message.

    Returns:
        A `FolderLock`.

    Raises:
        FolderBusyError: when another process holds the folder.
    """
    path = os.path.join(folder, LOCK_FILE)
    while True:
        handle = open(path, "a+")
        if fcntl is None:
            return FolderLock(folder, kind, handle)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                handle.close()
                raise
            holder = _read_holder(handle)
            handle.close()
            raise FolderBusyError(f"the folder {folder} is being written by {describe(holder)}: "
                                  "one writer per folder; wait for it to end, or choose "
                                  "another folder") from None
        if _same_file(handle, path):
            break
        handle.close()  # the holder deleted this file as we opened it
    handle.seek(0)
    handle.truncate()
    json.dump({"pid": os.getpid(), "host": socket.gethostname(), "kind": kind}, handle)
    handle.flush()
    return FolderLock(folder, kind, handle)


def _same_file(handle, path):
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def _read_holder(handle):
    handle.seek(0)
    try:
        holder = json.loads(handle.read())
    except ValueError:  # the holder is writing it this instant
        return {}
    return holder if isinstance(holder, dict) else {}


def describe(holder):
    """The holder of a lock in words: `a training run (...) pid 12, host h`."""
    what = KINDS.get(holder.get("kind"), "another process")
    if "pid" not in holder:
        return what
    return f"{what}, pid {holder['pid']} on host {holder.get('host', '?')}"


def is_lock_file(name):
    """Whether a folder entry is the lock file (which a free folder may hold)."""
    return name == LOCK_FILE
