"""Each keras-tuner trial's TensorBoard logs in a folder of its own, with its hyperparameters, on every backend."""

import copy
import os

import keras


def with_trial_logs(tuner_class):
    """`tuner_class`, giving each trial its own TensorBoard logs on any backend.

    keras-tuner moves a `TensorBoard` callback's logs into the trial's folder
    (`{log_dir}/{trial_id}/execution0`) and adds TensorBoard's HParams
    callback there, on TensorFlow only; on JAX and torch every trial would
    write into the same folder, with no HParams dashboard. This subclass does
    both there (the tuners here run one execution a trial).
    """

    class Tuner(tuner_class):
        def run_trial(self, trial, *args, **kwargs):
            if keras.backend.backend() != "tensorflow":
                kwargs["callbacks"] = _trial_callbacks(kwargs.get("callbacks", []), trial)
            return super().run_trial(trial, *args, **kwargs)

    Tuner.__name__ = Tuner.__qualname__ = tuner_class.__name__
    return Tuner


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


class TrialHParams(keras.callbacks.Callback):
    """Writes a trial's hyperparameters for TensorBoard's HParams dashboard.

    TensorBoard's own HParams Keras callback opens its file writer when made,
    so keras-tuner could not deep-copy it; this one makes it when training
    begins.

    Args:
        log_dir: the trial's TensorBoard folder.
        trial: the `keras_tuner.engine.trial.Trial`.
    """

    def __init__(self, log_dir, trial):
        super().__init__()
        self.log_dir = log_dir
        self.hyperparameters = dict(trial.hyperparameters.values)
        self.trial_id = trial.trial_id
        self._writer = None

    def on_train_begin(self, logs=None):
        from tensorboard.plugins.hparams import api as hparams_api

        self._writer = hparams_api.KerasCallback(self.log_dir, self.hyperparameters,
                                                 trial_id=self.trial_id)
        self._writer.set_model(self.model)
        self._writer.on_train_begin(logs)

    def on_train_end(self, logs=None):
        self._writer.on_train_end(logs)
        self._writer = None
