"""Writes real data files in the formats the loaders read, for tests."""

import gzip
import io
import os
import pickle
import tarfile

import numpy as np


def random_split(count, classes, shape, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, *shape), dtype=np.uint8)
    labels = rng.integers(0, classes, size=count).astype(np.int64)
    return images, labels


def cifar_binary_records(images, labels, label_bytes):
    """CIFAR binary records: label byte(s) then CHW pixels."""
    rows = []
    for image, label in zip(images, labels):
        prefix = bytes([label % 20, label] if label_bytes == 2 else [label])
        rows.append(prefix + image.transpose(2, 0, 1).tobytes())
    return b"".join(rows)


def cifar_python_batch(images, labels, label_key, protocol=2):
    """A CIFAR python batch: bytes keys, protocol 2 as the originals.

    Python 3 writes bytes into a protocol-2 pickle through `_codecs.encode`
    (the originals, from Python 2, do not); protocol 4 writes them as bytes.
    """
    batch = {
        b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),
        label_key: [int(l) for l in labels],
        b"batch_label": b"testing batch",
    }
    return pickle.dumps(batch, protocol=protocol)


KERAS_CIFAR_FILES = {
    "cifar10": ([f"data_batch_{i}" for i in range(1, 6)], "test_batch", b"labels"),
    "cifar100": (["train"], "test", b"fine_labels"),
}


def write_keras_cifar_cache(folder, name, train, test):
    """What `keras.datasets.<name>.load_data()` extracts into `folder`.

    `folder` is the cache's layout folder, e.g.
    `$KERAS_HOME/datasets/cifar-10-batches-py-target/cifar-10-batches-py`.
    """
    train_files, test_file, label_key = KERAS_CIFAR_FILES[name]
    os.makedirs(folder, exist_ok=True)
    chunks = np.array_split(np.arange(len(train[0])), len(train_files))
    batches = {f: (train[0][c], train[1][c]) for f, c in zip(train_files, chunks)}
    batches[test_file] = test
    for file_name, (images, labels) in batches.items():
        with open(os.path.join(folder, file_name), "wb") as handle:
            handle.write(cifar_python_batch(images, labels, label_key, protocol=4))
    return folder


def write_tar(path, files):
    """A .tar.gz holding `files` (name -> bytes)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


def write_cifar10_binary(folder, train, test, archive=True):
    """cifar-10-binary.tar.gz (or its extracted folder) with 5 train batches."""
    files = {}
    for i, chunk in enumerate(np.array_split(np.arange(len(train[0])), 5), start=1):
        files[f"cifar-10-batches-bin/data_batch_{i}.bin"] = cifar_binary_records(
            train[0][chunk], train[1][chunk], 1
        )
    files["cifar-10-batches-bin/test_batch.bin"] = cifar_binary_records(*test, 1)
    return _write(folder, "cifar-10-binary.tar.gz", files, archive)


def write_cifar100_python(folder, train, test, archive=True):
    files = {
        "cifar-100-python/train": cifar_python_batch(*train, b"fine_labels"),
        "cifar-100-python/test": cifar_python_batch(*test, b"fine_labels"),
    }
    return _write(folder, "cifar-100-python.tar.gz", files, archive)


def write_cifar100_binary(folder, train, test, archive=True):
    files = {
        "cifar-100-binary/train.bin": cifar_binary_records(*train, 2),
        "cifar-100-binary/test.bin": cifar_binary_records(*test, 2),
    }
    return _write(folder, "cifar-100-binary.tar.gz", files, archive)


def write_cifar10_python(folder, train, test, archive=True):
    files = {}
    for i, chunk in enumerate(np.array_split(np.arange(len(train[0])), 5), start=1):
        files[f"cifar-10-batches-py/data_batch_{i}"] = cifar_python_batch(
            train[0][chunk], train[1][chunk], b"labels"
        )
    files["cifar-10-batches-py/test_batch"] = cifar_python_batch(*test, b"labels")
    return _write(folder, "cifar-10-python.tar.gz", files, archive)


def _write(folder, archive_name, files, archive):
    os.makedirs(folder, exist_ok=True)
    if archive:
        path = os.path.join(folder, archive_name)
        write_tar(path, files)
        return path
    for name, content in files.items():
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)
    return folder


def idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fashion_idx(folder, train, test, compress=True):
    """Fashion-MNIST's four idx files (gzipped as distributed)."""
    os.makedirs(folder, exist_ok=True)
    names = {
        "train-images-idx3-ubyte": train[0][..., 0],
        "train-labels-idx1-ubyte": train[1],
        "t10k-images-idx3-ubyte": test[0][..., 0],
        "t10k-labels-idx1-ubyte": test[1],
    }
    for name, array in names.items():
        content = idx_bytes(array)
        if compress:
            content, name = gzip.compress(content), name + ".gz"
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(content)
    return folder
