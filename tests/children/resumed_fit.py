"""A training run that SIGKILLs itself at a chosen point, for the exact-resume test.

Run as a script: `python resumed_fit.py OPTIONS_JSON WEIGHTS_FILE KILL`. It
calls `training.fit` with the options; KILL says where the process kills
itself with SIGKILL (epochs and batches counted from 1):

- `none`: nowhere; at the end of training every weight is saved to
  WEIGHTS_FILE (an .npz, written by this helper, not by the package);
- `after_epoch:N`: at the end of epoch N, after its backup (callbacks run
  after the package's own);
- `in_epoch:N:B`: after batch B of epoch N;
- `writing_backup:N`: while the backup of epoch N is written: its weights
  file is cut to half its size, as a kill in the write leaves it, before
  `backup.json` names it.
"""

import json
import os
import signal
import sys

import keras
import numpy as np

from keras_procrustes.training import fit


def die():
    """Ends this process as `kill -9` does."""
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class KillAt(keras.callbacks.Callback):
    """Kills the process after a batch or an epoch; saves the weights at the end."""

    def __init__(self, kill, weights_path):
        super().__init__()
        self.kill, self.weights_path, self.epoch = kill.split(":"), weights_path, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.kill[0] == "in_epoch" and [self.epoch, batch + 1] == [int(k) for k in self.kill[1:]]:
            die()

    def on_epoch_end(self, epoch, logs=None):
        if self.kill == ["after_epoch", str(epoch + 1)]:
            die()

    def on_train_end(self, logs=None):
        np.savez(self.weights_path, **{f"{index:04d}:{variable.path}": keras.ops.convert_to_numpy(
            variable.value) for index, variable in enumerate(self.model.weights)})


def kill_while_writing(epoch):
    """Makes the backup of `epoch` die halfway through its weights file."""
    save_weights = keras.Model.save_weights

    def cut_short(model, path, *args, **kwargs):
        save_weights(model, path, *args, **kwargs)
        if os.path.basename(path) == f"epoch-{epoch:04d}.weights.h5":
            os.truncate(path, os.path.getsize(path) // 2)
            die()

    keras.Model.save_weights = cut_short


def main(options_json, weights_path, kill):
    options = json.loads(options_json)
    if kill.startswith("writing_backup:"):
        kill_while_writing(int(kill.split(":")[1]))
    fit(options.pop("model"), options.pop("dataset"), callbacks=[KillAt(kill, weights_path)],
        **options)


if __name__ == "__main__":
    main(*sys.argv[1:])
