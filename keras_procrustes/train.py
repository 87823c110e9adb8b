"""Deprecated: `python -m keras_procrustes.cli.train` is the `keras-procrustes-train` command.

Kept for one release; importing or running it warns `FutureWarning`.
"""

import sys
import warnings

warnings.warn(
    "Importing from keras_procrustes.train is deprecated, import from keras_procrustes.cli.train",
    FutureWarning, stacklevel=2)

from keras_procrustes.cli.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
