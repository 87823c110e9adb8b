"""Kept for `from keras_procrustes import tuning`: see `training.tuning`."""

from keras_procrustes.training.tuning import TUNERS
from keras_procrustes.training.tuning import ProcResNetHyperModel
from keras_procrustes.training.tuning import make_tuner

__all__ = ["TUNERS", "ProcResNetHyperModel", "make_tuner"]
