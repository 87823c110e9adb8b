"""A run's `history.csv` (Keras' `CSVLogger`): read, checked before a resume, trimmed to the epochs done."""

import csv
import os

from keras_procrustes.training.errors import RunStateError
from keras_procrustes.training.run.atomic import writing
from keras_procrustes.training.run.names import HISTORY


def _rows(path):
    """The header and rows of `history.csv`, each row with its epoch (an int).

    Args:
        path: the history file.

    Returns:
        `(header, [(epoch, row), ...])`.

    Raises:
        RunStateError: for a file that can't be read or is not a history.
    """
    try:
        with open(path, newline="") as handle:
            rows = [row for row in csv.reader(handle) if row]
        if not rows or rows[0][0] != "epoch" or "val_accuracy" not in rows[0]:
            raise ValueError("no header with epoch and val_accuracy")
        column = rows[0].index("val_accuracy")
        for row in rows[1:]:
            float(row[column])
        return rows[0], [(int(row[0]), row) for row in rows[1:]]
    except (OSError, ValueError, IndexError, csv.Error) as error:
        raise RunStateError(f"the history {path} is damaged ({error})") from None


def check(path, epochs_done):
    """Refuses a resume whose `history.csv` lacks a row of a finished epoch.

    Args:
        path: the history file.
        epochs_done: the epochs the backup has finished.

    Raises:
        RunStateError: when the history is missing, damaged or short.
    """
    if not os.path.exists(path):
        raise RunStateError(f"the history {path} of its {epochs_done} finished epoch(s) "
                            "is missing; the run's record would be short")
    epochs = {epoch for epoch, _ in _rows(path)[1]}
    missing = sorted(set(range(epochs_done)) - epochs)
    if missing:
        raise RunStateError(f"the history {path} has no row of epoch(s) "
                            f"{', '.join(str(e + 1) for e in missing)}; the run's record "
                            "would be short")


def trim(path, epochs_done):
    """Keeps the rows of the first `epochs_done` epochs of `history.csv`.

    Args:
        path: the history file.
        epochs_done: the epochs the run resumes after (0: delete the file).

    Raises:
        RunStateError: for a damaged history.
    """
    if not os.path.exists(path):
        return
    if epochs_done == 0:
        os.remove(path)
        return
    header, rows = _rows(path)
    kept = [header] + [row for epoch, row in rows if epoch < epochs_done]
    with writing(path) as partial, open(partial, "w", newline="") as handle:
        csv.writer(handle).writerows(kept)


def read_history(run_dir):
    """The rows of `history.csv`, as dicts."""
    with open(os.path.join(run_dir, HISTORY), newline="") as handle:
        return list(csv.DictReader(handle))
