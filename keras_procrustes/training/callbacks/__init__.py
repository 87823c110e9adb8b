"""The training side's Keras callbacks, one a module, each named after its class.

Each module's docstring says what the Keras callback it stands in for lacks.
`fit` uses them all, `search` some; each works in a user's own `model.fit`.
`trial_hparams.TrialHParams` is keras-tuner's alone (the `[tune]` extra), so
it is not exported here.
"""

from keras_procrustes.training.callbacks.best_model_checkpoint import BestModelCheckpoint
from keras_procrustes.training.callbacks.ctrl_c_between_batches import CtrlCBetweenBatches
from keras_procrustes.training.callbacks.nan_guard import NaNGuard
from keras_procrustes.training.callbacks.norm_preservation_monitor import NormPreservationMonitor
from keras_procrustes.training.callbacks.run_backup import RunBackup
from keras_procrustes.training.callbacks.run_tensorboard import RunTensorBoard
from keras_procrustes.training.callbacks.training_monitor import TrainingMonitor
from keras_procrustes.training.moved import moved_names

__all__ = [
    "BestModelCheckpoint",
    "CtrlCBetweenBatches",
    "NaNGuard",
    "NormPreservationMonitor",
    "RunBackup",
    "RunTensorBoard",
    "TrainingMonitor",
]

__getattr__ = moved_names(__name__, {
    name: "keras_procrustes.training.callbacks.training_monitor"
    for name in ("projected_layers", "singular_value_range")})
