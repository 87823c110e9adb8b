"""`TrialHParams`: a keras-tuner trial's hyperparameters for TensorBoard's HParams dashboard.

TensorBoard's own `hparams_api.KerasCallback` opens its file writer when it
is made, so keras-tuner can't deep-copy it into each trial; this one opens
it when training begins.
"""

import keras


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
