"""Reading CIFAR-10/100 and Fashion-MNIST into uint8 numpy arrays.

Sources, in order: a local folder or archive (the CIFAR binary or python
archives, their extracted folders, Fashion-MNIST idx files, Debian's
`dataset-fashion-mnist`), data that tensorflow-datasets already prepared, and
tensorflow-datasets with a download, only when the download host answers.
"""

import dataclasses
import gzip
import io
import os
import pickle
import socket
import tarfile
import threading
import zlib

import numpy as np

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
KERAS_CACHE = os.path.join(os.path.expanduser("~"), ".keras", "datasets")
PROBE_TIMEOUT_S = 3.0


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What is known of a data set.

    Attributes:
        name: the name users pass, also tensorflow-datasets' name.
        classes: number of classes.
        image_shape: `(height, width, channels)`.
        download_host: the host tensorflow-datasets downloads from.
        download_url: the file to fetch by hand for offline use.
        binary_dir: folder inside the binary archive (CIFAR).
        python_dir: folder inside the python archive (CIFAR).
        default_dirs: places searched when no folder is given.
    """

    name: str
    classes: int
    image_shape: tuple
    download_host: str
    download_url: str
    binary_dir: str = ""
    python_dir: str = ""
    default_dirs: tuple = ()


DATASETS = {
    "cifar10": DatasetSpec(
        "cifar10", 10, (32, 32, 3), "www.cs.toronto.edu",
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        binary_dir="cifar-10-batches-bin", python_dir="cifar-10-batches-py",
        default_dirs=(KERAS_CACHE,),
    ),
    "cifar100": DatasetSpec(
        "cifar100", 100, (32, 32, 3), "www.cs.toronto.edu",
        "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        binary_dir="cifar-100-binary", python_dir="cifar-100-python",
        default_dirs=(KERAS_CACHE,),
    ),
    "fashion_mnist": DatasetSpec(
        "fashion_mnist", 10, (28, 28, 1),
        "fashion-mnist.s3-website.eu-central-1.amazonaws.com",
        "https://github.com/zalandoresearch/fashion-mnist (data/fashion/*.gz), "
        "or `apt-get install dataset-fashion-mnist`",
        default_dirs=(DEBIAN_FASHION_MNIST,),
    ),
}

# CIFAR binary layout: label byte(s), then 3072 bytes of CHW pixels.
_CIFAR_BINARY_FILES = {
    "cifar10": (
        [f"data_batch_{i}.bin" for i in range(1, 6)], ["test_batch.bin"], 1
    ),
    "cifar100": (["train.bin"], ["test.bin"], 2),
}
_CIFAR_PYTHON_FILES = {
    "cifar10": (
        [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels"
    ),
    "cifar100": (["train"], ["test"], b"fine_labels"),
}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataSourceError(ValueError):
    """No usable source, or a corrupt one. The message says what to do."""


def get_spec(name):
    """The `DatasetSpec` of `name`, or a ValueError naming the choices.

    Args:
        name: `"cifar10"`, `"cifar100"` or `"fashion_mnist"`.

    Returns:
        A `DatasetSpec`.
    """
    if name not in DATASETS:
        raise ValueError(
            f"Unknown dataset={name!r}. Known: {', '.join(sorted(DATASETS))}"
        )
    return DATASETS[name]


# ----------------------------------------------------------------- files --
class _FileReader:
    """Reads named files from a folder or from a (compressed) tar archive."""

    def __init__(self, path):
        self.path = path
        self._tar = None
        if os.path.isfile(path):
            try:
                self._tar = tarfile.open(path)
                self._members = {
                    os.path.basename(m.name): m
                    for m in self._tar.getmembers()
                    if m.isfile()
                }
            except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
                raise DataSourceError(
                    f"The archive {path} is corrupt or truncated ({error}). "
                    "Download it again."
                ) from error

    def has(self, name):
        if self._tar is not None:
            return name in self._members
        return os.path.isfile(os.path.join(self.path, name))

    def read(self, name):
        try:
            if self._tar is not None:
                return self._tar.extractfile(self._members[name]).read()
            with open(os.path.join(self.path, name), "rb") as handle:
                return handle.read()
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise DataSourceError(
                f"Could not read {name} from {self.path}: it is corrupt or "
                f"truncated ({error}). Download it again."
            ) from error


def _candidate_readers(path, inner_dirs):
    """Readers, one at a time, for `path` and the folders and archives in it.

    Args:
        path: a folder or an archive.
        inner_dirs: folder names an archive extracts to.

    Yields:
        `_FileReader`s; an archive is opened only when its turn comes.
    """
    if os.path.isfile(path):
        yield _FileReader(path)
        return
    candidates = [path] + [os.path.join(path, d) for d in inner_dirs if d]
    candidates += [
        os.path.join(path, entry)
        for entry in sorted(os.listdir(path))
        if entry.endswith((".tar.gz", ".tgz", ".tar"))
    ]
    for candidate in candidates:
        if os.path.exists(candidate):
            yield _FileReader(candidate)


# ----------------------------------------------------------------- CIFAR --
def _read_cifar_binary(reader, spec, files):
    """Images and labels from CIFAR binary record files."""
    label_bytes = _CIFAR_BINARY_FILES[spec.name][2]
    record = label_bytes + 32 * 32 * 3
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
        images.append(rows[:, label_bytes:].reshape(-1, 3, 32, 32))
    return np.concatenate(images).transpose(0, 2, 3, 1), np.concatenate(labels)


class _CifarUnpickler(pickle.Unpickler):
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
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: CIFAR batches hold only "
            "arrays, lists and strings"
        )


def _read_cifar_python(reader, spec, files):
    """Images and labels from CIFAR python batches, with a safe unpickler."""
    label_key = _CIFAR_PYTHON_FILES[spec.name][2]
    images, labels = [], []
    for name in files:
        try:
            batch = _CifarUnpickler(
                io.BytesIO(reader.read(name)), encoding="bytes"
            ).load()
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            label = np.asarray(batch[label_key], dtype=np.int64)
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError) as error:
            raise DataSourceError(
                f"{name} in {reader.path} is not a readable CIFAR python "
                f"batch ({error!r})."
            ) from error
        if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(label):
            raise DataSourceError(
                f"{name} in {reader.path} has data of shape {data.shape} "
                f"and {len(label)} labels; expected (N, 3072) and N labels."
            )
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(label)
    return np.concatenate(images).transpose(0, 2, 3, 1), np.concatenate(labels)


def _read_cifar(reader, spec):
    """Train and test arrays from one folder or archive, or None."""
    for table, read in (
        (_CIFAR_BINARY_FILES, _read_cifar_binary),
        (_CIFAR_PYTHON_FILES, _read_cifar_python),
    ):
        train_files, test_files = table[spec.name][:2]
        if all(reader.has(f) for f in train_files + test_files):
            return read(reader, spec, train_files), read(reader, spec, test_files)
    return None


# ----------------------------------------------------------------- idx ----
def _parse_idx(raw, name):
    """An idx (MNIST-format) file's array."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataSourceError(f"{name} is not an unsigned-byte idx file.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    if len(raw) != header + int(np.prod(shape)):
        raise DataSourceError(
            f"{name} holds {len(raw) - header} bytes of data for shape "
            f"{shape}: it is truncated."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_idx_file(reader, stem):
    for name in (stem + ".gz", stem):
        if reader.has(name):
            raw = reader.read(name)
            if name.endswith(".gz"):
                try:
                    raw = gzip.decompress(raw)
                except (OSError, EOFError, zlib.error) as error:
                    raise DataSourceError(
                        f"{name} in {reader.path} is corrupt or truncated "
                        f"({error})."
                    ) from error
            return _parse_idx(raw, f"{name} in {reader.path}")
    return None


def _read_idx(reader, spec):
    """Train and test arrays from Fashion-MNIST idx files, or None."""
    splits = []
    for images_stem, labels_stem in _IDX_FILES.values():
        images = _read_idx_file(reader, images_stem)
        labels = _read_idx_file(reader, labels_stem)
        if images is None or labels is None:
            return None
        if len(images) != len(labels):
            raise DataSourceError(
                f"{images_stem} has {len(images)} images but {labels_stem} "
                f"has {len(labels)} labels, in {reader.path}."
            )
        splits.append((images[..., None], labels.astype(np.int64)))
    return tuple(splits)


# ----------------------------------------------------------------- tfds ---
def _tfds_builder(spec, data_dir):
    import tensorflow_datasets as tfds

    return tfds.builder(spec.name, data_dir=data_dir)


def _read_tfds(builder):
    """Train and test arrays from a prepared tensorflow-datasets builder."""
    import tensorflow_datasets as tfds

    splits = []
    for split in ("train", "test"):
        images, labels = tfds.as_numpy(
            builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
        )
        splits.append((images, labels.astype(np.int64)))
    return tuple(splits)


def host_reachable(host, port=443, timeout=PROBE_TIMEOUT_S):
    """Whether a TCP connection to `host:port` opens within `timeout` s.

    The name lookup counts towards the timeout too: the probe runs in a
    daemon thread, so a resolver that never answers cannot hang the caller.

    Args:
        host: a host name or address.
        port: a TCP port.
        timeout: seconds.

    Returns:
        A bool.
    """
    result = []

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


# ----------------------------------------------------------------- entry --
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


def _missing_message(spec, searched):
    places = ", ".join(searched) or "(none)"
    return (
        f"No local copy of {spec.name} was found (searched: {places}) and "
        f"{spec.download_host} cannot be reached, so tensorflow-datasets "
        f"cannot download it. Download {spec.download_url} on a machine with "
        "internet, put the archive (or its extracted folder) in a folder, "
        "and pass that folder as data_dir (--data-dir)."
    )


def load_arrays(name, data_dir=None, download=True):
    """Train and test arrays of a data set, from the first source that works.

    Args:
        name: `"cifar10"`, `"cifar100"` or `"fashion_mnist"`.
        data_dir: a folder holding the CIFAR binary or python archive or its
            extracted folder, Fashion-MNIST idx files, or tensorflow-datasets
            data; or the path of an archive. `None` searches the default
            places (`~/.keras/datasets`, Debian's
            `/usr/share/datasets/fashion-mnist`, tfds' own folder).
        download: let tensorflow-datasets download when no local copy is
            found and the download host answers within 3 s.

    Returns:
        `((x_train, y_train), (x_test, y_test), source)`: uint8 images
        `(N, H, W, C)`, int64 labels, and a string naming the source.
    """
    spec = get_spec(name)
    places = [data_dir] if data_dir else list(spec.default_dirs)
    searched = []
    for place in places:
        searched.append(place)
        if not os.path.exists(place):
            if data_dir:
                raise DataSourceError(f"data_dir={data_dir!r} does not exist.")
            continue
        read = _read_idx if spec.name == "fashion_mnist" else _read_cifar
        for reader in _candidate_readers(place, (spec.binary_dir, spec.python_dir)):
            splits = read(reader, spec)
            if splits is not None:
                return (*_check_arrays(splits, spec, reader.path), reader.path)
    builder = _tfds_builder(spec, data_dir)
    searched.append(f"tensorflow-datasets in {builder.data_dir}")
    if builder.is_prepared():
        return (*_check_arrays(_read_tfds(builder), spec, "tfds"), "tfds")
    if not download or not host_reachable(spec.download_host):
        raise DataSourceError(_missing_message(spec, searched))
    builder.download_and_prepare()
    return (*_check_arrays(_read_tfds(builder), spec, "tfds"), "tfds")
