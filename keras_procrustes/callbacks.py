"""Deprecated: import from `keras_procrustes.training.callbacks`.

Kept for one release; importing it warns `FutureWarning`.
"""

import warnings

warnings.warn(
    "Importing from keras_procrustes.callbacks is deprecated, import from "
    "keras_procrustes.training.callbacks", FutureWarning, stacklevel=2)

from keras_procrustes.training.callbacks import NaNGuard  # noqa: E402
from keras_procrustes.training.callbacks import NormPreservationMonitor  # noqa: E402
from keras_procrustes.training.callbacks import TrainingMonitor  # noqa: E402
from keras_procrustes.training.callbacks import projected_layers  # noqa: E402

__all__ = ["NaNGuard", "NormPreservationMonitor", "TrainingMonitor", "projected_layers"]
