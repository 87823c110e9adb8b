"""Deprecated path of `keras_procrustes.training.callbacks.run_tensorboard`; it goes in 0.6.0."""

import warnings

from keras_procrustes.training.callbacks import run_tensorboard as _run_tensorboard

warnings.warn("keras_procrustes.training.tensorboard is deprecated: use "
              "keras_procrustes.training.callbacks", FutureWarning, stacklevel=2)


def __getattr__(name):
    """The name from `keras_procrustes.training.callbacks.run_tensorboard`."""
    return getattr(_run_tensorboard, name)
