"""`load_arrays`: a data set's uint8 arrays from the first source that has them.

Sources, in order: a local folder or archive (`data_dir`; by default Keras'
dataset cache, then Debian's `dataset-fashion-mnist`), data that
tensorflow-datasets already prepared, and tensorflow-datasets with a
download, only when a bounded first request for its file succeeds. In
Keras' cache, what `keras.datasets.cifar10/100.load_data()` left there is
read first, as Keras reads it (`keras_cache`); then the CIFAR binary or
python archives, their extracted folders (`cifar`) and Fashion-MNIST idx
files (`idx`).
"""

import os

from keras_procrustes.data import cifar
from keras_procrustes.data import idx
from keras_procrustes.data import tfds_source
from keras_procrustes.data.archive import candidate_readers
from keras_procrustes.data.datasets import DATASETS  # noqa: F401 (the names' home)
from keras_procrustes.data.datasets import DEBIAN_FASHION_MNIST  # noqa: F401
from keras_procrustes.data.datasets import DataSourceError
from keras_procrustes.data.datasets import MissingDataDirError
from keras_procrustes.data.datasets import get_spec
from keras_procrustes.data.keras_cache import keras_batch_reader  # noqa: F401
from keras_procrustes.data.keras_cache import keras_datasets_dir
from keras_procrustes.data.keras_cache import read_keras_layout
from keras_procrustes.data.tfds_source import DOWNLOAD_TIMEOUT_S  # noqa: F401
from keras_procrustes.data.tfds_source import download_attempt


def _check_arrays(splits, spec, source):
    """Shapes and label range; returns the splits unchanged."""
    for split, (images, labels) in zip(("train", "test"), splits):
        if images.shape[1:] != spec.image_shape:
            raise DataSourceError(
                f"{spec.name} {split} images from {source} have shape "
                f"{images.shape[1:]}, expected {spec.image_shape}."
            )
        bad = labels[(labels < 0) | (labels >= spec.classes)]
        if bad.size:
            raise DataSourceError(
                f"{spec.name} {split} labels from {source} must be in "
                f"[0, {spec.classes}); found label={int(bad[0])} "
                f"({bad.size} out of range)."
            )
    return splits


def _missing_message(spec, searched, why):
    places = ", ".join(searched) or "(none)"
    return (
        f"No local copy of {spec.name} was found (searched: {places}) and "
        f"tensorflow-datasets cannot download it ({why}). Download "
        f"{spec.download_url} on a machine with internet, put the archive (or "
        "its extracted folder) in a folder, and pass that folder as data_dir "
        "(--data-dir)."
    )


def _read_place(place, spec, keras_cache):
    """`(splits, source)` from the first copy found in `place`, or None.

    In Keras' cache (`keras_cache`), what `keras.datasets` left there first,
    read as Keras reads it; then the format readers over `place`, the
    archives in it and the folders they extract to (Keras' among them).
    """
    if keras_cache:
        found = read_keras_layout(place, spec)
        if found is not None:
            return found
    read = idx.read_idx if spec.name == "fashion_mnist" else cifar.read_cifar
    inner_dirs = (spec.binary_dir, spec.python_dir, *spec.keras_dirs)
    for reader in candidate_readers(place, inner_dirs):
        splits = read(reader, spec)
        if splits is not None:
            return splits, reader.path
    return None


def _local_places(spec, data_dir):
    """`(folder, is_keras_cache)` pairs to search, in order."""
    if data_dir:
        return [(data_dir, False)]
    return [(keras_datasets_dir(), True)] + [(d, False) for d in spec.system_dirs]


def _from_tfds(spec, data_dir, download, searched):
    """The splits from tensorflow-datasets: prepared, else downloaded."""
    builder = tfds_source.builder(spec, data_dir)
    searched.append(f"tensorflow-datasets in {builder.data_dir}")
    if not builder.is_prepared():
        if not download:
            raise DataSourceError(_missing_message(
                spec, searched, "downloads are off: download=False, --no-download"))
        failure = download_attempt(spec.tfds_url)
        if failure is not None:
            raise DataSourceError(_missing_message(spec, searched, f"{spec.tfds_url}: {failure}"))
        builder.download_and_prepare()
    return _check_arrays(tfds_source.read_prepared(builder), spec, "tfds")


def load_arrays(name, data_dir=None, download=True):
    """Train and test arrays of a data set, from the first source that works.

    Args:
        name: `"cifar10"`, `"cifar100"` or `"fashion_mnist"`.
        data_dir: a folder holding the CIFAR binary or python archive or its
            extracted folder, Fashion-MNIST idx files, Keras' dataset cache
            layout, or tensorflow-datasets data; or the path of an archive.
            `None` searches the default places (Keras' dataset cache, see
            `keras_datasets_dir`; Debian's `/usr/share/datasets/fashion-mnist`;
            tfds' own folder).
        download: let tensorflow-datasets download when no local copy is
            found and a first request for its file succeeds within
            `DOWNLOAD_TIMEOUT_S` seconds (`download_attempt`).

    Returns:
        `((x_train, y_train), (x_test, y_test), source)`: uint8 images
        `(N, H, W, C)`, int64 labels, and a string naming the source.

    Raises:
        ValueError: for an unknown data set name.
        MissingDataDirError: when `data_dir` does not exist.
        DataSourceError: when no source has the data, or a copy is corrupt.
    """
    spec = get_spec(name)
    if data_dir and not os.path.exists(data_dir):
        raise MissingDataDirError(data_dir)
    searched = []
    for place, keras_cache in _local_places(spec, data_dir):
        searched.append(place)
        found = _read_place(place, spec, keras_cache) if os.path.exists(place) else None
        if found is not None:
            splits, source = found
            return (*_check_arrays(splits, spec, source), source)
    return (*_from_tfds(spec, data_dir, download, searched), "tfds")
