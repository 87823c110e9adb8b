"""Deprecated path of `keras_procrustes.training.search.hypermodel`; it goes in 0.6.0."""

import warnings

from keras_procrustes.training.search import hypermodel as _hypermodel

warnings.warn("keras_procrustes.training.tuning is deprecated: use "
              "keras_procrustes.training.search.hypermodel", FutureWarning, stacklevel=2)


def __getattr__(name):
    """The name from `keras_procrustes.training.search.hypermodel`."""
    return getattr(_hypermodel, name)
