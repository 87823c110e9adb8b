"""`python -m keras_procrustes.train`: the `keras-procrustes-train` command."""

import sys

from keras_procrustes.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
