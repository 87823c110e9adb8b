"""Deprecated: import from `keras_procrustes.training.tuning`.

Kept for one release; importing it warns `FutureWarning`.
"""

import warnings

warnings.warn(
    "Importing from keras_procrustes.tuning is deprecated, import from "
    "keras_procrustes.training.tuning", FutureWarning, stacklevel=2)

from keras_procrustes.training.tuning import TUNERS  # noqa: E402
from keras_procrustes.training.tuning import ProcrustesResNetHyperModel  # noqa: E402
from keras_procrustes.training.tuning import make_tuner  # noqa: E402

ProcResNetHyperModel = ProcrustesResNetHyperModel  # the old name, also deprecated

__all__ = ["TUNERS", "ProcResNetHyperModel", "ProcrustesResNetHyperModel", "make_tuner"]
