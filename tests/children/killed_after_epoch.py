"""A training run that dies at the end of its first epoch, after its backup.

Run as a script: `python killed_after_epoch.py OPTIONS_JSON`. It calls
`training.fit` with the options; a callback after the package's own (so
after the backup of epoch 1 is written) ends the process with exit code 3,
as a kill would, leaving an unfinished run to resume.
"""

import json
import os
import sys

import keras

from keras_procrustes.training import fit


class DieAfterFirstEpoch(keras.callbacks.Callback):
    """Ends the process, without clean-up, when the first epoch ends."""

    def on_epoch_end(self, epoch, logs=None):
        sys.stdout.flush()
        os._exit(3)


def main(options_json):
    options = json.loads(options_json)
    fit(options.pop("model"), options.pop("dataset"), callbacks=[DieAfterFirstEpoch()],
        **options)


if __name__ == "__main__":
    main(sys.argv[1])
