"""Each keras-tuner trial's TensorBoard logs in a folder of its own, with its hyperparameters, on every backend.

A trial keeps its ID's hyperparameters and logs when a search resumes:
keras-tuner reloads a search only when the tuner's file (`tuner0.json`) is
there, and writes it at the end of the first trial, so a search stopped in
its first trial drew that trial again with other values under the same ID;
the tuner here writes it when the search begins (but on a worker of a
distributed search, whose trials the chief's oracle keeps). A trial run
again (a resumed or retried one keeps its ID) starts with an empty
TensorBoard folder: the logs of the run that stopped are deleted, in the
tuner's own project folder only.
"""

import copy
import os
import shutil

import keras

from keras_procrustes.training.callbacks.trial_hparams import TrialHParams


def with_trial_logs(tuner_class):
    """`tuner_class`, giving each trial its own TensorBoard logs on any backend.

    keras-tuner moves a `TensorBoard` callback's logs into the trial's folder
    (`{log_dir}/{trial_id}/execution0`) and adds TensorBoard's HParams
    callback there, on TensorFlow only; on JAX and torch every trial would
    write into the same folder, with no HParams dashboard. This subclass does
    both there (the tuners here run one execution a trial). It also saves
    the tuner when the search begins, and clears the TensorBoard folder of
    a trial that runs again (see the module's docstring).
    """

    class Tuner(tuner_class):
        def on_search_begin(self):
            super().on_search_begin()
            if not self._is_worker():  # (a worker's trials are the chief's to keep)
                self.save()  # a rerun reloads the search, and retries a trial it stopped in

        def run_trial(self, trial, *args, **kwargs):
            _clear_earlier_logs(kwargs.get("callbacks", []), trial, self.project_dir)
            if keras.backend.backend() != "tensorflow":
                kwargs["callbacks"] = _trial_callbacks(kwargs.get("callbacks", []), trial)
            return super().run_trial(trial, *args, **kwargs)

    Tuner.__name__ = Tuner.__qualname__ = tuner_class.__name__
    return Tuner


def _clear_earlier_logs(callbacks, trial, project_dir):
    """Deletes the TensorBoard folders of an earlier run of `trial`, inside `project_dir` only.

    A trial's folder (`{log_dir}/{trial_id}`) exists when the trial starts
    only if a run of the same trial stopped before it ended: two runs'
    event files in one folder would draw as one broken curve.
    """
    project = os.path.realpath(project_dir)
    for callback in callbacks:
        if not isinstance(callback, keras.callbacks.TensorBoard):
            continue
        folder = os.path.realpath(os.path.join(callback.log_dir, str(trial.trial_id)))
        if os.path.commonpath([project, folder]) == project and os.path.isdir(folder):
            shutil.rmtree(folder)


def _trial_callbacks(callbacks, trial):
    """`callbacks`, each `TensorBoard` moved into the trial's folder with a
    `TrialHParams` beside it."""
    result = []
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.TensorBoard):
            callback = copy.deepcopy(callback)
            callback.log_dir = os.path.join(callback.log_dir, str(trial.trial_id), "execution0")
            result.append(TrialHParams(callback.log_dir, trial))
        result.append(callback)
    return result


