"""Test accuracy of three forms (He et al., 2018 form, 2020 form) on Fashion-MNIST.

Optional: it runs only when the suite has time left and a 2018-form preset
exists (`models.list_models("*2018*")`). Numpy arrays from the idx files,
Keras' own augmentation layers (flip, pad and random crop), `model.fit`:
no tf.data and no TensorFlow.
"""

import gzip
import os

import numpy as np

from gpu_suite import keras_step

FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def read_idx(path):
    """An idx file (gzipped or not) as a numpy array (LeCun's MNIST format)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as stream:
        data = stream.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(directory):
    """Fashion-MNIST from `directory`: `(x_train, y_train, x_test, y_test)`."""
    arrays = {key: read_idx(os.path.join(directory, name)) for key, name in FILES.items()}
    for key in ("x_train", "x_test"):
        arrays[key] = arrays[key][..., None].astype("float32")
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def forms(depth):
    """The three forms' preset names at He et al.'s `depth`, or a reason why not.

    Returns:
        `(names, None)` or `(None, reason)`.
    """
    from keras_procrustes import models

    found = models.list_models("*2018*")
    if not found:
        return None, ("no 2018-form preset yet (models.list_models('*2018*') is "
                      "empty); the three-form comparison is skipped")
    # The 2018 form of He et al.'s ResNet-`depth`: every depth of the family
    # builds by name, preset or not (models.get("procresnet20_2018")).
    return [f"resnet{depth}_baseline", f"procresnet{depth}_2018",
            f"procresnet{depth + 2}"], None


def _train(name, data, sizes, seed):
    import keras
    from keras_procrustes import models

    keras.utils.set_random_seed(seed)
    x_train, y_train, x_test, y_test = data
    network = models.get(name, input_shape=(28, 28, 1))
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.ZeroPadding2D(2),
        keras.layers.RandomCrop(28, 28, seed=seed),
        network,
    ])
    sgd, _ = keras_step.optimizer()
    model.compile(sgd, "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=sizes["accuracy_epochs"], verbose=0)
    return float(model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1])


def measure(measurement, sizes):
    """Test accuracy of each form after the suite's epochs, at one seed."""
    names, reason = forms(sizes["accuracy_model_depth"])
    if names is None:
        return {"status": "skipped", "reason": reason}
    directory = os.environ.get("FASHION_MNIST_DIR", "")
    if not os.path.isfile(os.path.join(directory, FILES["y_test"])):
        return {"status": "skipped",
                "reason": f"no Fashion-MNIST idx files in FASHION_MNIST_DIR={directory!r}"}
    data = load(directory)
    if sizes["accuracy_subset"]:
        data = tuple(array[:sizes["accuracy_subset"]] for array in data)
    accuracy = {name: _train(name, data, sizes, measurement["seed"]) for name in names}
    return {"test_accuracy": accuracy, "epochs": sizes["accuracy_epochs"],
            "seed": measurement["seed"]}
