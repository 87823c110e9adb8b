"""One process of a training job (or a single process), for the multi-process tests.

Run as a script: `python job_fit.py OPTIONS_JSON WEIGHTS_FILE`. It calls
`training.fit` with the options, and at the end of training saves this
process's copy of every weight to WEIGHTS_FILE (an .npz, written by this test
helper, not by the package), after checking that every device of the process
holds the same copy.
"""

import json
import sys

import keras
import numpy as np

from keras_procrustes.training import fit


class SaveLocalWeights(keras.callbacks.Callback):
    """Saves this process's copy of the weights at the end of training."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_train_end(self, logs=None):
        arrays = {}
        for index, variable in enumerate(self.model.weights):
            copies = [np.asarray(shard.data) for shard in variable.value.addressable_shards]
            for copy in copies[1:]:
                np.testing.assert_array_equal(copy, copies[0], err_msg=variable.path)
            arrays[f"{index:04d}:{variable.path}"] = copies[0]
        np.savez(self.path, **arrays)


def main(options_json, weights_path):
    options = json.loads(options_json)
    metrics = fit(options.pop("model"), options.pop("dataset"),
                  callbacks=[SaveLocalWeights(weights_path)], **options)
    print("METRICS " + json.dumps(metrics), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
