"""A run's saved state, read back: the epoch backup and the best model's record, checked.

`callbacks.RunBackup` and `callbacks.BestModelCheckpoint` write them
(through `atomic`, the backup's metadata last); here a rerun reads them,
refuses a damaged or incomplete one with a `RunStateError`, restores the
backup into the model, and deletes the backup when the run finishes (only
files of the backup's names).
"""

import os

from keras_procrustes.checks import is_positive_int
from keras_procrustes.training.errors import RunStateError
from keras_procrustes.training.run.atomic import read_json
from keras_procrustes.training.run.names import BACKUP_METADATA
from keras_procrustes.training.run.names import BACKUP_WEIGHTS
from keras_procrustes.training.run.names import BEST_METADATA
from keras_procrustes.training.run.names import BEST_MODEL


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
        leftovers = [f for f in listdir(folder) if BACKUP_WEIGHTS.fullmatch(f)]
        if leftovers:
            raise RunStateError(
                f"the backup in {folder} has weights but no {BACKUP_METADATA}: "
                "it is incomplete"
            )
        return 0, None
    metadata = read_json(metadata_path, "the backup metadata")
    epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
    weights = metadata.get("weights") if isinstance(metadata, dict) else None
    if not is_positive_int(epoch) or not BACKUP_WEIGHTS.fullmatch(str(weights)):
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


def listdir(folder):
    """The names in `folder`, or none when it does not exist."""
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
    for name in listdir(folder):
        if name == BACKUP_METADATA or BACKUP_WEIGHTS.fullmatch(name):
            os.remove(os.path.join(folder, name))
    if os.path.isdir(folder) and not os.listdir(folder):
        os.rmdir(folder)


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


