"""`BestModelCheckpoint`: `best.keras` and the record of what it is.

Keras' `ModelCheckpoint(save_best_only=True)` writes the file in place (a
kill mid-write leaves a broken `best.keras`) and records nothing beside it;
this one writes it under a temporary name with `best.json` (its epoch and
accuracy), so a summary of the run can't describe another model.
"""

import os

import keras

from keras_procrustes.training.job import across_processes
from keras_procrustes.training.run import names as run_names
from keras_procrustes.training.run.atomic import check_space
from keras_procrustes.training.run.atomic import write_json
from keras_procrustes.training.run.atomic import writing


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
        partial = os.path.join(self.run_dir, run_names.BEST_PARTIAL)
        check_space(partial, self.model)
        with writing(os.path.join(self.run_dir, run_names.BEST_MODEL), partial):
            with across_processes.local_only():
                self.model.save(partial)
            write_json(os.path.join(self.run_dir, run_names.BEST_METADATA), best)
        self.best = best
