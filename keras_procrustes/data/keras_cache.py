"""Keras' dataset cache: what `keras.datasets.*.load_data()` left on disk, read as Keras reads it.

CIFAR batches are read with Keras' own batch reader when it unpickles with
Keras' restricted unpickler; Fashion-MNIST's cached idx files with the idx
reader (Keras has no reader of its own that does not download).
"""

import os
import pickle

import numpy as np

from keras_procrustes.data import cifar
from keras_procrustes.data import idx
from keras_procrustes.data.archive import FileReader
from keras_procrustes.data.datasets import DataSourceError


def keras_datasets_dir():
    """Keras' dataset cache, where `keras.datasets.*.load_data()` keeps files.

    As Keras decides it: `$KERAS_HOME/datasets`, else `~/.keras/datasets`
    (`/tmp/.keras/datasets` when the home folder is not writable). Read at
    each call, so a `KERAS_HOME` set after Keras was imported counts.

    Returns:
        A folder path (it may not exist).
    """
    home = os.environ.get("KERAS_HOME")
    if not home:
        base = os.path.expanduser("~")
        if not os.access(base, os.W_OK):
            base = "/tmp"
        home = os.path.join(base, ".keras")
    return os.path.join(home, "datasets")


def keras_batch_reader():
    """Keras' CIFAR batch reader, when it unpickles with a restricted unpickler.

    `keras.datasets.cifar10/100.load_data()` read their batches with
    `keras.src.datasets.cifar.load_batch`. Keras versions whose reader uses
    Keras' `RestrictedUnpickler` (numpy arrays only, never code) are used;
    older ones unpickle anything, so `cifar.read_python` is used instead.

    Returns:
        `load_batch(path, label_key)` or `None`.
    """
    try:
        from keras.src.datasets import cifar as keras_cifar
    except ImportError:
        return None
    if getattr(keras_cifar, "RestrictedUnpickler", None) is None:
        return None
    return getattr(keras_cifar, "load_batch", None)


def _read_keras_batches(load_batch, folder, files, label_key):
    """Images and labels from CIFAR python batches, read by Keras' reader."""
    images, labels = [], []
    for name in files:
        path = os.path.join(folder, name)
        try:
            data, label = load_batch(path, label_key=label_key)
        except (pickle.UnpicklingError, EOFError, OSError, KeyError, TypeError,
                ValueError, AttributeError) as error:
            raise DataSourceError(
                f"{name} in {folder} is not a readable CIFAR python batch ({error})."
            ) from error
        label = np.asarray(label, dtype=np.int64).reshape(-1)
        if len(data) != len(label):
            raise DataSourceError(
                f"{name} in {folder} holds {len(data)} images and {len(label)} labels."
            )
        images.append(np.asarray(data, dtype=np.uint8))
        labels.append(label)
    return np.concatenate(images).transpose(0, 2, 3, 1), np.concatenate(labels)


def _read_keras_cifar(folder, spec):
    """Train and test arrays from a `keras.datasets` CIFAR folder, or None."""
    train_files, test_files, label_key = cifar.PYTHON_FILES[spec.name]
    if not all(os.path.isfile(os.path.join(folder, f)) for f in train_files + test_files):
        return None
    load_batch = keras_batch_reader()
    if load_batch is None:  # a Keras whose reader would unpickle code: ours
        reader = FileReader(folder)
        return (
            cifar.read_python(reader, spec, train_files),
            cifar.read_python(reader, spec, test_files),
        )
    return tuple(
        _read_keras_batches(load_batch, folder, files, label_key.decode())
        for files in (train_files, test_files)
    )


def read_keras_layout(place, spec):
    """The splits from Keras' cache layout under `place`.

    Args:
        place: Keras' dataset cache (`keras_datasets_dir()`).
        spec: the `DatasetSpec`.

    Returns:
        `(splits, folder)`, or `None` when Keras left no copy there.

    Raises:
        DataSourceError: for a copy that is there but corrupt.
    """
    for inner in spec.keras_dirs:
        folder = os.path.join(place, inner)
        if not os.path.isdir(folder):
            continue
        if spec.name == "fashion_mnist":
            splits = idx.read_idx(FileReader(folder), spec)
        else:
            splits = _read_keras_cifar(folder, spec)
        if splits is not None:
            return splits, folder
    return None
