"""A run's folder: whether a run may go there, and how a rerun treats it (new, resumed, numbered).

A folder becomes a run folder when `manifest.claim` writes its manifest.
The package writes only into a new or empty folder or a run folder of its
own, and deletes only files it wrote there. One process writes a run
folder at a time: `open_run` locks it (`lock`) before it decides what the
run does there.
"""

import dataclasses
import errno
import os
import tempfile

from keras_procrustes.training import errors
from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.errors import RunStateError
from keras_procrustes.training.run import backup as backups
from keras_procrustes.training.run import history
from keras_procrustes.training.run import lock as folder_lock
from keras_procrustes.training.run import names as run_names
from keras_procrustes.training.run.manifest import read_manifest
from keras_procrustes.training.run.manifest import recorded_options
from keras_procrustes.training.run.names import HISTORY
from keras_procrustes.training.run.names import SEARCH_MARKER


@dataclasses.dataclass
class RunPlan:
    """Where a run goes and where it starts.

    Attributes:
        path: the run's folder.
        first_epoch: epochs already done (0 for a new run).
        weights_path: the backup to restore, or `None`.
        best: the record of `best.keras` so far, or `None`.
        lock: the `FolderLock` this process holds on `path` (a `NoLock`
            until `open_run` takes it, and on the other processes of a job).
    """

    path: str
    first_epoch: int = 0
    weights_path: str = None
    best: dict = None
    lock: folder_lock.FolderLock = dataclasses.field(default_factory=folder_lock.NoLock)


def check_writable(log_dir):
    """Checks that a run folder can be made at `log_dir`.

    Args:
        log_dir: the folder asked for.

    Raises:
        OptionError: naming `log_dir`, when it is a file, under a file, a
            link to nothing, not writable, or a name in it is too long.
    """
    try:
        os.stat(log_dir)
    except OSError as error:  # os.path.exists says False to any error
        if error.errno == errno.ENAMETOOLONG:
            raise OptionError("log_dir", log_dir, "can't be made: a name in it is too long "
                              "for the file system") from None
    if os.path.exists(log_dir) and not os.path.isdir(log_dir):
        raise OptionError("log_dir", log_dir, "is a file, not a folder")
    parent = os.path.abspath(log_dir)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if os.path.islink(parent) and not os.path.exists(parent):
        raise OptionError("log_dir", log_dir, f"can't be made: {parent} is a symbolic link to "
                          f"{os.readlink(parent)}, which does not exist")
    if not os.path.isdir(parent):
        raise OptionError("log_dir", log_dir, f"can't be made: {parent} is a file")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        raise OptionError("log_dir", log_dir, f"is not writable ({error.strerror})") from None


def _is_empty(path):
    """Whether `path` is free for a new run: absent, or a folder holding at most a lock file."""
    if not os.path.exists(path):
        return True
    return os.path.isdir(path) and all(map(folder_lock.is_lock_file, os.listdir(path)))


def _numbered(path):
    """The first of `path-2`, `path-3`, ... that is new or empty."""
    number = 2
    while not _is_empty(f"{path}-{number}"):
        number += 1
    return f"{path}-{number}"


def plan(log_dir, existing, options, model_given=None):
    """Decides where a run goes, reading but changing nothing.

    Args:
        log_dir: the folder asked for.
        existing: `"resume"`, `"new"` or `"refuse"` (see `TrainingConfig`).
        options: the run-defining options (`TrainingConfig.run_options()`,
            the model under its canonical name).
        model_given: the model name as the user gave it, for messages.

    Returns:
        A `RunPlan`.

    Raises:
        OptionError: naming `log_dir` (or the option that differs from an
            unfinished run's) when the run can't go there.
        RunStateError: when the unfinished run's state can't be resumed.
    """
    check_writable(log_dir)
    if _is_empty(log_dir):
        return RunPlan(log_dir)
    if existing == "new":
        return RunPlan(_numbered(log_dir))
    manifest = read_manifest(log_dir)
    hint = f"pass --existing new for a new run in {_numbered(log_dir)}"
    if manifest is None and os.path.exists(os.path.join(log_dir, SEARCH_MARKER)):
        raise OptionError("log_dir", log_dir, f"holds a search of keras-procrustes-tune; {hint}")
    if manifest is None:
        raise OptionError("log_dir", log_dir, f"holds files that are not a run of this package; {hint}")
    if existing == "refuse":
        raise OptionError("log_dir", log_dir, f"holds a run ({manifest['status']}); {hint}")
    if manifest["status"] == "finished":
        raise OptionError("log_dir", log_dir, f"holds a finished run; {hint}")
    recorded = recorded_options(manifest)
    _check_same_model(log_dir, manifest, recorded, options, model_given, hint)
    _check_same_options(log_dir, recorded, options, hint)
    return _resume_plan(log_dir)


def open_run(log_dir, existing, options, model_given=None):
    """Plans the run and locks its folder, so that no other process writes it.

    The plan is made once to refuse a bad folder before anything is
    written, then again under the lock: another writer may have changed the
    folder in between. `existing="new"` takes the first of `log_dir-2`,
    `log_dir-3`, ... that this process makes or finds free and locks.

    Args:
        log_dir, existing, options, model_given: as in `plan`.

    Returns:
        A `RunPlan` holding its `lock`; release it when the run ends.

    Raises:
        OptionError, RunStateError: as `plan`.
        FolderBusyError: when another process writes `log_dir`.
    """
    try:
        planned = plan(log_dir, existing, options, model_given)
    except (OptionError, RunStateError):
        _refuse_if_written(log_dir)
        raise
    if planned.path != log_dir:
        return _open_numbered(log_dir)
    try:
        lock = folder_lock.make_and_acquire(log_dir, "train")
    except errors.FolderBusyError:
        if existing != "new":
            raise
        return _open_numbered(log_dir)  # another new run took it this instant
    try:
        run = plan(log_dir, existing, options, model_given)
    except BaseException:
        lock.release()
        raise
    if run.path != log_dir:  # another run filled it before the lock
        lock.release()
        return _open_numbered(log_dir)
    run.lock = lock
    return run


def _refuse_if_written(log_dir):
    """Refuses a folder whose run another process writes now, naming that process.

    `plan` reads a folder without its lock, so a run being written looks
    like an unfinished one, whose options or backup may not suit this run;
    the true answer then is its writer. A probe of the lock (taken and given
    back at once) tells; it runs in folders of this package's runs only.

    Args:
        log_dir: the folder `plan` refused.

    Raises:
        FolderBusyError: when another process holds the folder's lock.
    """
    try:
        manifest = read_manifest(log_dir)
    except RunStateError:
        return
    if manifest is None or manifest["status"] != "running":
        return
    try:
        folder_lock.acquire(log_dir, "train").release()
    except OSError:
        return  # a folder this process can't write: the refusal stands


def _open_numbered(log_dir):
    """A new run in the first of `log_dir-2`, `log_dir-3`, ... this process makes or locks free."""
    number = 1
    while True:
        number += 1
        path = f"{log_dir}-{number}"
        made = True
        try:
            os.mkdir(path)  # atomic: of two processes, one makes it
        except FileExistsError:
            made = False
            if not _is_empty(path):
                continue
        try:
            lock = folder_lock.acquire(path, "train")
        except errors.FolderBusyError:
            continue
        if _is_empty(path):
            lock.made_folder = path if made else None
            return RunPlan(path, lock=lock)
        lock.release()


def _check_same_model(log_dir, manifest, recorded, options, model_given, hint):
    model = options.get("model")
    if "model" not in recorded or recorded["model"] == model:
        return
    as_recorded = manifest.get("options", {}).get("model")
    before = ""
    if as_recorded != recorded["model"]:
        before = f" (recorded as {as_recorded!r}, an old name)"
    given = model_given if model_given is not None else model
    means = f"means {model!r} now; " if given != model else ""
    raise OptionError(
        "model", given, f"{means}the unfinished run in {log_dir} is "
        f"{recorded['model']!r}{before}: rerun with --model {recorded['model']} to resume "
        f"it, or {hint}"
    )


def _check_same_options(log_dir, recorded, options, hint):
    for name, value in options.items():
        if name in recorded and recorded[name] != value:
            raise OptionError(
                name, value, f"the unfinished run in {log_dir} has {recorded[name]!r}; "
                f"rerun with the same options to resume it, or {hint}"
            )


def _resume_plan(log_dir):
    backup_dir = os.path.join(log_dir, run_names.BACKUP_DIR)
    try:
        epoch, weights_path = backups.read_backup(backup_dir)
        best = backups.read_best(log_dir)
        if epoch:
            history.check(os.path.join(log_dir, HISTORY), epoch)
    except RunStateError as error:
        raise RunStateError(
            f"can't resume the run in {log_dir}: {error}. Move {log_dir} away to start "
            "over, or pass --existing new"
        ) from None
    return RunPlan(log_dir, epoch, weights_path, best)


def check_replicas(run, replicas):
    """Refuses to resume a run on another number of replicas.

    Args:
        run: the `RunPlan`.
        replicas: the replicas this machine gives.

    Raises:
        RunStateError: when the run trained on another number of replicas.
    """
    if not run.first_epoch:
        return
    recorded = (read_manifest(run.path) or {}).get("replicas")
    if recorded is not None and recorded != replicas:
        raise RunStateError(
            f"the run in {run.path} trained on {recorded} replica(s) and this machine "
            f"gives {replicas}: the batch and learning-rate schedule would change. "
            "Resume it on the same devices, or pass --existing new"
        )
