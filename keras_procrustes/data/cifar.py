"""CIFAR-10/100 archives: the binary record files and the python pickled batches.

The layouts are those of Krizhevsky's CIFAR pages
(https://www.cs.toronto.edu/~kriz/cifar.html). Python batches are read with
an unpickler that builds numpy arrays and plain containers only, never code.
"""

import io
import pickle

import numpy as np

from keras_procrustes.data.datasets import DataSourceError

# Binary layout: label byte(s), then 3072 bytes of CHW pixels.
BINARY_FILES = {
    "cifar10": ([f"data_batch_{i}.bin" for i in range(1, 6)], ["test_batch.bin"], 1),
    "cifar100": (["train.bin"], ["test.bin"], 2),
}
PYTHON_FILES = {
    "cifar10": ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels"),
    "cifar100": (["train"], ["test"], b"fine_labels"),
}
PIXELS = 32 * 32 * 3


def to_images(rows):
    """`(N, 3072)` CHW rows -> `(N, 32, 32, 3)` HWC images."""
    return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def read_binary(reader, spec, files):
    """Images and labels from CIFAR binary record files.

    Args:
        reader: an `archive.FileReader`.
        spec: the `DatasetSpec`.
        files: the file names of one split.

    Returns:
        `(uint8 images (N, 32, 32, 3), int64 labels (N,))`.

    Raises:
        DataSourceError: for a file that is not a whole number of records.
    """
    label_bytes = BINARY_FILES[spec.name][2]
    record = label_bytes + PIXELS
    images, labels = [], []
    for name in files:
        raw = np.frombuffer(reader.read(name), dtype=np.uint8)
        if raw.size == 0 or raw.size % record:
            raise DataSourceError(
                f"{name} in {reader.path} holds {raw.size} bytes, not a "
                f"whole number of {record}-byte records: it is truncated or "
                "not a CIFAR binary file."
            )
        rows = raw.reshape(-1, record)
        labels.append(rows[:, label_bytes - 1].astype(np.int64))
        images.append(to_images(rows[:, label_bytes:]))
    return np.concatenate(images), np.concatenate(labels)


class SafeUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only, never code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # Python 3 writes bytes into protocol-2 pickles as _codecs.encode.
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        """The class `module.name` when allowed.

        Raises:
            pickle.UnpicklingError: for anything else.
        """
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: CIFAR batches hold only "
            "arrays, lists and strings"
        )


def read_python(reader, spec, files):
    """Images and labels from CIFAR python batches, with `SafeUnpickler`.

    Args:
        reader: an `archive.FileReader`.
        spec: the `DatasetSpec`.
        files: the batch names of one split.

    Returns:
        `(uint8 images (N, 32, 32, 3), int64 labels (N,))`.

    Raises:
        DataSourceError: for a batch that can't be read or has the wrong shape.
    """
    label_key = PYTHON_FILES[spec.name][2]
    images, labels = [], []
    for name in files:
        try:
            batch = SafeUnpickler(io.BytesIO(reader.read(name)), encoding="bytes").load()
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            label = np.asarray(batch[label_key], dtype=np.int64)
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError) as error:
            raise DataSourceError(
                f"{name} in {reader.path} is not a readable CIFAR python "
                f"batch ({error!r})."
            ) from error
        if data.ndim != 2 or data.shape[1] != PIXELS or len(data) != len(label):
            raise DataSourceError(
                f"{name} in {reader.path} has data of shape {data.shape} "
                f"and {len(label)} labels; expected (N, 3072) and N labels."
            )
        images.append(to_images(data))
        labels.append(label)
    return np.concatenate(images), np.concatenate(labels)


def read_cifar(reader, spec):
    """Train and test arrays from one folder or archive, binary first.

    Args:
        reader: an `archive.FileReader`.
        spec: the `DatasetSpec` (CIFAR-10 or CIFAR-100).

    Returns:
        `((x_train, y_train), (x_test, y_test))`, or `None` when the
        files are not there.

    Raises:
        DataSourceError: for files that are there but corrupt.
    """
    for table, read in ((BINARY_FILES, read_binary), (PYTHON_FILES, read_python)):
        train_files, test_files = table[spec.name][:2]
        if all(reader.has(f) for f in train_files + test_files):
            return read(reader, spec, train_files), read(reader, spec, test_files)
    return None
