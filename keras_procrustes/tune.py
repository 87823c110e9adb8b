"""Deprecated: `python -m keras_procrustes.cli.tune` is the `keras-procrustes-tune` command.

Kept for one release; importing or running it warns `FutureWarning`.
"""

import sys
import warnings

warnings.warn(
    "Importing from keras_procrustes.tune is deprecated, import from keras_procrustes.cli.tune",
    FutureWarning, stacklevel=2)

from keras_procrustes.cli.tune import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
