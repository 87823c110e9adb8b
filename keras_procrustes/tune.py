"""`python -m keras_procrustes.tune`: the `keras-procrustes-tune` command."""

import sys

from keras_procrustes.cli.tune import main

if __name__ == "__main__":
    sys.exit(main())
