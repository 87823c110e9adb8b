"""The training side's Keras callbacks, one a module, each named after its class.

Each module's docstring says what the Keras callback it stands in for lacks.
They write with `tf.summary` (TensorBoard) and are used by `fit` and
`search`; every one of them also works in a user's own `model.fit`.
"""

from keras_procrustes.training.callbacks.best_model_checkpoint import BestModelCheckpoint
from keras_procrustes.training.callbacks.ctrl_c_between_batches import CtrlCBetweenBatches
from keras_procrustes.training.callbacks.nan_guard import NaNGuard
from keras_procrustes.training.callbacks.norm_preservation_monitor import NormPreservationMonitor
from keras_procrustes.training.callbacks.run_backup import RunBackup
from keras_procrustes.training.callbacks.run_tensorboard import RunTensorBoard
from keras_procrustes.training.callbacks.training_monitor import TrainingMonitor

__all__ = [
    "BestModelCheckpoint",
    "CtrlCBetweenBatches",
    "NaNGuard",
    "NormPreservationMonitor",
    "RunBackup",
    "RunTensorBoard",
    "TrainingMonitor",
]
