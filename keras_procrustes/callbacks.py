"""Kept for `from keras_procrustes import callbacks`: see `training.callbacks`."""

from keras_procrustes.training.callbacks import NaNGuard
from keras_procrustes.training.callbacks import NormPreservationMonitor
from keras_procrustes.training.callbacks import TrainingMonitor
from keras_procrustes.training.callbacks import projected_layers

__all__ = ["NaNGuard", "NormPreservationMonitor", "TrainingMonitor", "projected_layers"]
