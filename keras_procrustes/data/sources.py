"""Reading CIFAR-10/100 and Fashion-MNIST into uint8 numpy arrays.

Sources, in order: a local folder or archive (`data_dir`; by default Keras'
dataset cache, then Debian's `dataset-fashion-mnist`), data that
tensorflow-datasets already prepared, and tensorflow-datasets with a
download, only when a bounded first request for its file succeeds. In
Keras' cache, what `keras.datasets.cifar10/100.load_data()` left there is
read first, with Keras' own batch reader and its restricted unpickler; then
the CIFAR binary or python archives, their extracted folders and
Fashion-MNIST idx files are read by this module's readers.
"""

import dataclasses
import gzip
import io
import os
import pickle
import tarfile
import threading
import zlib

import numpy as np

from keras_procrustes.optional import require

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
DOWNLOAD_TIMEOUT_S = 5.0


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What is known of a data set.

    Attributes:
        name: the name users pass, also tensorflow-datasets' name.
        classes: number of classes.
        image_shape: `(height, width, channels)`.
        tfds_url: the first file tensorflow-datasets downloads for it.
        download_url: the file to fetch by hand for offline use.
        binary_dir: folder inside the binary archive (CIFAR).
        python_dir: folder inside the python archive (CIFAR).
        keras_dirs: where `keras.datasets.<name>.load_data()` keeps it,
            under Keras' dataset cache (Keras 3's layout, then Keras 2's).
        system_dirs: places searched after Keras' cache when no folder is
            given.
    """

    name: str
    classes: int
    image_shape: tuple
    tfds_url: str
    download_url: str
    binary_dir: str = ""
    python_dir: str = ""
    keras_dirs: tuple = ()
    system_dirs: tuple = ()


DATASETS = {
    "cifar10": DatasetSpec(
        "cifar10", 10, (32, 32, 3),
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        binary_dir="cifar-10-batches-bin", python_dir="cifar-10-batches-py",
        keras_dirs=("cifar-10-batches-py-target/cifar-10-batches-py",
                    "cifar-10-batches-py"),
    ),
    "cifar100": DatasetSpec(
        "cifar100", 100, (32, 32, 3),
        "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        binary_dir="cifar-100-binary", python_dir="cifar-100-python",
        keras_dirs=("cifar-100-python-target/cifar-100-python", "cifar-100-python"),
    ),
    "fashion_mnist": DatasetSpec(
        "fashion_mnist", 10, (28, 28, 1),
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
        "train-images-idx3-ubyte.gz",
        "https://github.com/zalandoresearch/fashion-mnist (data/fashion/*.gz), "
        "or `apt-get install dataset-fashion-mnist`",
        keras_dirs=("fashion-mnist",),
        system_dirs=(DEBIAN_FASHION_MNIST,),
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


class MissingDataDirError(DataSourceError):
    """The `data_dir` given does not exist.

    Attributes:
        data_dir: the path given.
    """

    def __init__(self, data_dir):
        self.data_dir = data_dir
        super().__init__(f"data_dir={data_dir!r} does not exist.")

    def for_command_line(self):
        """The message as the commands show it: `--data-dir PATH: does not exist`."""
        return f"--data-dir {self.data_dir}: does not exist"


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
        inner_dirs: folders under `path` to look in (what the archives
            extract to, Keras' cache layout).

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


def keras_batch_reader():
    """Keras' CIFAR batch reader, when it unpickles with a restricted unpickler.

    `keras.datasets.cifar10/100.load_data()` read their batches with
    `keras.src.datasets.cifar.load_batch`. Keras versions whose reader uses
    Keras' `RestrictedUnpickler` (numpy arrays only, never code) are used;
    older ones unpickle anything, so this module's reader is used instead.

    Returns:
        `load_batch(path, label_key)` or `None`.
    """
    try:
        from keras.src.datasets import cifar
    except ImportError:
        return None
    if getattr(cifar, "RestrictedUnpickler", None) is None:
        return None
    return getattr(cifar, "load_batch", None)


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
                f"{name} in {folder} is not a readable CIFAR python batch "
                f"({error})."
            ) from error
        label = np.asarray(label, dtype=np.int64).reshape(-1)
        if len(data) != len(label):
            raise DataSourceError(
                f"{name} in {folder} holds {len(data)} images and "
                f"{len(label)} labels."
            )
        images.append(np.asarray(data, dtype=np.uint8))
        labels.append(label)
    return np.concatenate(images).transpose(0, 2, 3, 1), np.concatenate(labels)


def _read_keras_cifar(folder, spec):
    """Train and test arrays from a `keras.datasets` CIFAR folder, or None."""
    train_files, test_files, label_key = _CIFAR_PYTHON_FILES[spec.name]
    if not all(os.path.isfile(os.path.join(folder, f)) for f in train_files + test_files):
        return None
    load_batch = keras_batch_reader()
    if load_batch is None:  # a Keras whose reader would unpickle code: ours
        reader = _FileReader(folder)
        return (
            _read_cifar_python(reader, spec, train_files),
            _read_cifar_python(reader, spec, test_files),
        )
    return tuple(
        _read_keras_batches(load_batch, folder, files, label_key.decode())
        for files in (train_files, test_files)
    )


def _read_keras_layout(place, spec):
    """`(splits, folder)` from Keras' cache layout under `place`, or None.

    CIFAR is read with Keras' own batch reader; Fashion-MNIST's cached idx
    files with this module's idx reader (Keras has no reader of its own
    that does not download).
    """
    for inner in spec.keras_dirs:
        folder = os.path.join(place, inner)
        if not os.path.isdir(folder):
            continue
        if spec.name == "fashion_mnist":
            splits = _read_idx(_FileReader(folder), spec)
        else:
            splits = _read_keras_cifar(folder, spec)
        if splits is not None:
            return splits, folder
    return None


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
    tfds = require("tensorflow_datasets", "train")
    return tfds.builder(spec.name, data_dir=data_dir)


def _read_tfds(builder):
    """Train and test arrays from a prepared tensorflow-datasets builder."""
    tfds = require("tensorflow_datasets", "train")
    splits = []
    for split in ("train", "test"):
        images, labels = tfds.as_numpy(
            builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
        )
        splits.append((images, labels.astype(np.int64)))
    return tuple(splits)


def download_attempt(url, timeout=DOWNLOAD_TIMEOUT_S):
    """Whether `url` answers as tensorflow-datasets' download would see it.

    One GET, headers only, through `requests` (the client tensorflow-datasets
    downloads with), so the same proxy settings (`HTTPS_PROXY`, `HTTP_PROXY`,
    `NO_PROXY`) and certificates (`REQUESTS_CA_BUNDLE`) apply, with no
    retries. It runs in a daemon thread and is abandoned after `timeout`
    seconds, so a name lookup that never returns cannot hang the caller.

    Args:
        url: the first file the download would fetch (`DatasetSpec.tfds_url`).
        timeout: seconds.

    Returns:
        `None` when the server answers with a success status, else a short
        reason.
    """
    requests = require("requests", "train")
    outcome = []

    def attempt():
        try:
            with requests.get(url, stream=True, timeout=timeout) as response:
                outcome.append(
                    None if response.ok
                    else f"HTTP {response.status_code} {response.reason}"
                )
        except requests.RequestException as error:
            cause = getattr(error.args[0], "reason", None) if error.args else None
            outcome.append(f"{type(error).__name__}: {cause or error}")

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


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
    read as Keras reads it; then this module's readers over `place`, the
    archives in it and the folders they extract to (Keras' among them).
    """
    if keras_cache:
        found = _read_keras_layout(place, spec)
        if found is not None:
            return found
    read = _read_idx if spec.name == "fashion_mnist" else _read_cifar
    inner_dirs = (spec.binary_dir, spec.python_dir, *spec.keras_dirs)
    for reader in _candidate_readers(place, inner_dirs):
        splits = read(reader, spec)
        if splits is not None:
            return splits, reader.path
    return None


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
    """
    spec = get_spec(name)
    if data_dir and not os.path.exists(data_dir):
        raise MissingDataDirError(data_dir)
    if data_dir:
        places = [(data_dir, False)]
    else:
        places = [(keras_datasets_dir(), True)] + [(d, False) for d in spec.system_dirs]
    searched = []
    for place, keras_cache in places:
        searched.append(place)
        found = _read_place(place, spec, keras_cache) if os.path.exists(place) else None
        if found is not None:
            splits, source = found
            return (*_check_arrays(splits, spec, source), source)
    builder = _tfds_builder(spec, data_dir)
    searched.append(f"tensorflow-datasets in {builder.data_dir}")
    if builder.is_prepared():
        return (*_check_arrays(_read_tfds(builder), spec, "tfds"), "tfds")
    if not download:
        raise DataSourceError(
            _missing_message(spec, searched, "downloads are off: download=False, --no-download")
        )
    failure = download_attempt(spec.tfds_url)
    if failure is not None:
        raise DataSourceError(_missing_message(spec, searched, f"{spec.tfds_url}: {failure}"))
    builder.download_and_prepare()
    return (*_check_arrays(_read_tfds(builder), spec, "tfds"), "tfds")
