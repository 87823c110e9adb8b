"""Data sources and pipelines, on real files written by the tests."""

import dataclasses
import http.server
import os
import pickle
import re
import socket
import threading
import time

import numpy as np
import pytest

import data_files
from keras_procrustes import data
from keras_procrustes.data import sources

CIFAR_TRAIN = data_files.random_split(50, 10, (32, 32, 3), seed=0)
CIFAR_TEST = data_files.random_split(10, 10, (32, 32, 3), seed=1)
C100_TRAIN = data_files.random_split(40, 100, (32, 32, 3), seed=2)
C100_TEST = data_files.random_split(8, 100, (32, 32, 3), seed=3)
FASHION_TRAIN = data_files.random_split(30, 10, (28, 28, 1), seed=4)
FASHION_TEST = data_files.random_split(6, 10, (28, 28, 1), seed=5)


def _assert_loaded(loaded, train, test):
    (x_train, y_train), (x_test, y_test), _ = loaded
    np.testing.assert_array_equal(x_train, train[0])
    np.testing.assert_array_equal(y_train, train[1])
    np.testing.assert_array_equal(x_test, test[0])
    np.testing.assert_array_equal(y_test, test[1])
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64


@pytest.mark.parametrize("archive", [True, False])
@pytest.mark.parametrize(
    "name, writer, train, test",
    [
        ("cifar10", data_files.write_cifar10_binary, CIFAR_TRAIN, CIFAR_TEST),
        ("cifar10", data_files.write_cifar10_python, CIFAR_TRAIN, CIFAR_TEST),
        ("cifar100", data_files.write_cifar100_binary, C100_TRAIN, C100_TEST),
        ("cifar100", data_files.write_cifar100_python, C100_TRAIN, C100_TEST),
    ],
)
def test_cifar_formats(tmp_path, name, writer, train, test, archive):
    folder = str(tmp_path)
    path = writer(folder, train, test, archive=archive)
    _assert_loaded(sources.load_arrays(name, data_dir=folder, download=False), train, test)
    if archive:  # the archive's own path works too
        _assert_loaded(sources.load_arrays(name, data_dir=path, download=False), train, test)


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_idx(tmp_path, compress):
    data_files.write_fashion_idx(str(tmp_path), FASHION_TRAIN, FASHION_TEST, compress)
    _assert_loaded(
        sources.load_arrays("fashion_mnist", data_dir=str(tmp_path), download=False),
        FASHION_TRAIN,
        FASHION_TEST,
    )


@pytest.mark.skipif(
    not os.path.exists(sources.DEBIAN_FASHION_MNIST),
    reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)",
)
def test_debian_fashion_mnist_is_found_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache
    (x_train, y_train), (x_test, y_test), source = sources.load_arrays("fashion_mnist")
    assert source == sources.DEBIAN_FASHION_MNIST
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert sorted(np.unique(y_train)) == list(range(10))
    assert 60 < x_train.mean() < 90  # Fashion-MNIST's mean is about 72.9


def test_corrupt_archive(tmp_path):
    path = tmp_path / "cifar-10-binary.tar.gz"
    path.write_bytes(os.urandom(5000))
    with pytest.raises(data.DataSourceError, match="corrupt or truncated"):
        sources.load_arrays("cifar10", data_dir=str(path), download=False)


def test_truncated_archive(tmp_path):
    path = data_files.write_cifar10_binary(str(tmp_path / "full"), CIFAR_TRAIN, CIFAR_TEST)
    raw = open(path, "rb").read()
    cut = tmp_path / "cifar-10-binary.tar.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(data.DataSourceError, match="corrupt or truncated"):
        sources.load_arrays("cifar10", data_dir=str(cut), download=False)


def test_truncated_record_file(tmp_path):
    folder = data_files.write_cifar10_binary(str(tmp_path), CIFAR_TRAIN, CIFAR_TEST, archive=False)
    batch = os.path.join(folder, "cifar-10-batches-bin", "data_batch_3.bin")
    content = open(batch, "rb").read()
    open(batch, "wb").write(content[:-100])
    with pytest.raises(data.DataSourceError, match="data_batch_3.bin.*truncated"):
        sources.load_arrays("cifar10", data_dir=folder, download=False)


def test_truncated_idx_file(tmp_path):
    data_files.write_fashion_idx(str(tmp_path), FASHION_TRAIN, FASHION_TEST, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(data.DataSourceError, match="truncated"):
        sources.load_arrays("fashion_mnist", data_dir=str(tmp_path), download=False)


def test_out_of_range_labels(tmp_path):
    train = (CIFAR_TRAIN[0], CIFAR_TRAIN[1].copy())
    train[1][7] = 12
    data_files.write_cifar10_binary(str(tmp_path), train, CIFAR_TEST)
    with pytest.raises(data.DataSourceError, match=r"\[0, 10\).*label=12"):
        sources.load_arrays("cifar10", data_dir=str(tmp_path), download=False)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/keras_procrustes_pwned",))


def test_pickle_with_code_is_refused(tmp_path):
    folder = data_files.write_cifar10_python(str(tmp_path), CIFAR_TRAIN, CIFAR_TEST, archive=False)
    evil = {b"data": _Exploit(), b"labels": [0]}
    path = os.path.join(folder, "cifar-10-batches-py", "test_batch")
    open(path, "wb").write(pickle.dumps(evil, protocol=2))
    marker = "/tmp/keras_procrustes_pwned"
    if os.path.exists(marker):
        os.remove(marker)
    with pytest.raises(data.DataSourceError, match="refusing to load posix.system"):
        sources.load_arrays("cifar10", data_dir=folder, download=False)
    assert not os.path.exists(marker)


def test_missing_data_without_download_says_what_to_fetch(tmp_path):
    start = time.monotonic()
    with pytest.raises(data.DataSourceError, match="cifar-100-binary.tar.gz.*--data-dir"):
        sources.load_arrays("cifar100", data_dir=str(tmp_path), download=False)
    assert time.monotonic() - start < 10


# ------------------------------------------------- Keras' dataset cache --
@pytest.mark.parametrize(
    "name, layout, train, test",
    [
        ("cifar10", "cifar-10-batches-py-target/cifar-10-batches-py", CIFAR_TRAIN, CIFAR_TEST),
        ("cifar10", "cifar-10-batches-py", CIFAR_TRAIN, CIFAR_TEST),  # Keras 2
        ("cifar100", "cifar-100-python-target/cifar-100-python", C100_TRAIN, C100_TEST),
        ("cifar100", "cifar-100-python", C100_TRAIN, C100_TEST),  # Keras 2
    ],
)
def test_keras_cache_is_read_before_our_readers(tmp_path, monkeypatch, name, layout, train, test):
    # Keras' cache holds a keras.datasets tree and, beside it, an extracted
    # binary archive of other images, which this module's own readers would
    # read first (the binary folder is their first place to look).
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    cache = os.path.join(str(tmp_path), "datasets")
    tree = data_files.write_keras_cifar_cache(os.path.join(cache, layout), name, train, test)
    classes = 10 if name == "cifar10" else 100
    other = data_files.random_split(len(train[0]), classes, (32, 32, 3), seed=9)
    writer = data_files.write_cifar10_binary if name == "cifar10" else data_files.write_cifar100_binary
    writer(cache, other, test, archive=False)
    loaded = sources.load_arrays(name, download=False)
    _assert_loaded(loaded, train, test)
    assert loaded[2] == tree
    assert sources.keras_datasets_dir() == cache


def test_keras_cache_is_read_by_keras_with_its_restricted_unpickler(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    tree = os.path.join(str(tmp_path), "datasets", "cifar-10-batches-py-target", "cifar-10-batches-py")
    data_files.write_keras_cifar_cache(tree, "cifar10", CIFAR_TRAIN, CIFAR_TEST)
    with open(os.path.join(tree, "test_batch"), "wb") as handle:
        handle.write(pickle.dumps({b"data": _Exploit(), b"labels": [0]}, protocol=4))
    marker = "/tmp/keras_procrustes_pwned"
    if os.path.exists(marker):
        os.remove(marker)
    # Keras' words when its own reader is used (a Keras with RestrictedUnpickler), else ours.
    words = "Refusing to deserialize" if sources.keras_batch_reader() else "refusing to load"
    with pytest.raises(data.DataSourceError, match=f"test_batch in {re.escape(tree)}.*{words}.*posix.system"):
        sources.load_arrays("cifar10", download=False)
    assert not os.path.exists(marker)


def test_keras_fashion_mnist_cache_comes_before_debian(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    folder = os.path.join(str(tmp_path), "datasets", "fashion-mnist")
    data_files.write_fashion_idx(folder, FASHION_TRAIN, FASHION_TEST)
    loaded = sources.load_arrays("fashion_mnist", download=False)
    _assert_loaded(loaded, FASHION_TRAIN, FASHION_TEST)
    assert loaded[2] == folder


# ------------------------------------------- the bounded download attempt --
def _no_proxies(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_download_attempt_to_a_closed_port_fails_within_seconds(tmp_path, monkeypatch):
    _no_proxies(monkeypatch)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/cifar-10-binary.tar.gz"
    spec = dataclasses.replace(sources.DATASETS["cifar10"], tfds_url=url)
    monkeypatch.setitem(sources.DATASETS, "cifar10", spec)
    start = time.monotonic()
    with pytest.raises(data.DataSourceError, match=f"cannot download it \\({re.escape(url)}: .*--data-dir"):
        sources.load_arrays("cifar10", data_dir=str(tmp_path))
    assert time.monotonic() - start < 10


def test_download_attempt_is_bounded_when_the_server_never_answers(monkeypatch):
    _no_proxies(monkeypatch)
    with socket.socket() as silent:  # the kernel accepts; nothing ever replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        start = time.monotonic()
        failure = sources.download_attempt(f"http://127.0.0.1:{silent.getsockname()[1]}/x", timeout=1)
        elapsed = time.monotonic() - start
    assert failure is not None and ("timed out" in failure or "no answer" in failure), failure
    assert elapsed < 3


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy's answer: 200 for a .tar.gz, 403 for anything else."""

    seen = []

    def do_GET(self):
        _Proxy.seen.append(self.path)
        self.send_response(200 if self.path.endswith(".tar.gz") else 403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_download_attempt_goes_through_the_proxy(monkeypatch):
    # A host that does not resolve is reached through HTTP_PROXY, as
    # tensorflow-datasets' own download would (a raw socket would not).
    _no_proxies(monkeypatch)
    server = http.server.HTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
        url = "http://cifar.invalid/cifar-10-binary.tar.gz"
        assert sources.download_attempt(url, timeout=5) is None
        assert sources.download_attempt("http://cifar.invalid/other", timeout=5) == "HTTP 403 Forbidden"
        assert _Proxy.seen[-2:] == [url, "http://cifar.invalid/other"]
    finally:
        server.shutdown()
        server.server_close()


def test_tfds_download_without_internet_fails_within_seconds(tmp_path):
    # The real thing: tensorflow-datasets' CIFAR-10 file, from a machine
    # with no internet (CI reaches only package registries).
    if sources.download_attempt(sources.DATASETS["cifar10"].tfds_url) is None:
        pytest.skip("this machine reaches www.cs.toronto.edu: a download would start")
    start = time.monotonic()
    with pytest.raises(
        data.DataSourceError,
        match=r"cannot download it \(https://www\.cs\.toronto\.edu/~kriz/cifar-10-binary\.tar\.gz: .*--data-dir",
    ):
        sources.load_arrays("cifar10", data_dir=str(tmp_path))
    assert time.monotonic() - start < 10


def test_unknown_dataset_and_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="dataset='mnist'"):
        sources.load_arrays("mnist")
    with pytest.raises(data.DataSourceError, match="does not exist"):
        sources.load_arrays("cifar10", data_dir=str(tmp_path / "nope"))


def _numpy_batches(dataset):
    images, labels = [], []
    for x, y in dataset:
        images.append(np.asarray(x))
        labels.append(np.asarray(y))
    return np.concatenate(images), np.concatenate(labels)


def test_pipeline_shapes_dtypes_and_raw_pixels(tmp_path):
    data_files.write_cifar10_binary(str(tmp_path), CIFAR_TRAIN, CIFAR_TEST)
    train, test, info = data.load("cifar10", batch_size=16, data_dir=str(tmp_path))
    assert (info.classes, info.input_shape, info.train_examples) == (10, (32, 32, 3), 50)
    x, y = next(iter(train))
    assert tuple(x.shape) == (16, 32, 32, 3) and x.dtype.name == "float32"
    assert y.dtype.name == "int32"
    x_test, y_test = _numpy_batches(test)
    np.testing.assert_array_equal(y_test, CIFAR_TEST[1])  # test keeps order
    np.testing.assert_array_equal(x_test, CIFAR_TEST[0])  # raw pixels: the model normalises
    # The statistics the model's Normalization layer is built with.
    pixels = CIFAR_TRAIN[0].reshape(-1, 3).astype("float64")
    np.testing.assert_allclose(info.mean, pixels.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(info.std, pixels.std(axis=0), rtol=1e-5)


def _matches_flip_and_shift(augmented, original, pad=4):
    """Whether `augmented` is `original`, maybe flipped, shifted by <= pad."""
    size = original.shape[0]
    for image in (original, original[:, ::-1]):
        padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
        for dy in range(2 * pad + 1):
            for dx in range(2 * pad + 1):
                if np.allclose(padded[dy : dy + size, dx : dx + size], augmented, atol=1e-5):
                    return True
    return False


def test_augmentation_is_flip_pad_crop():
    images, _ = data_files.random_split(12, 10, (32, 32, 3), seed=6)
    labels = np.arange(12)  # a label names its image
    augmented = data.train_dataset(images, labels, 12, epochs=3, seed=1)
    x_all, y_all = _numpy_batches(augmented)
    seen_changed = False
    for epoch in range(3):  # three epochs, reshuffled
        x, y = x_all[12 * epoch: 12 * epoch + 12], y_all[12 * epoch: 12 * epoch + 12]
        assert sorted(y) == list(range(12))
        for image, label in zip(x, y):
            original = images[label].astype("float32")
            assert _matches_flip_and_shift(image, original)
            seen_changed |= not np.allclose(image, original)
    assert seen_changed


def test_grey_images_to_32x32_rgb(tmp_path):
    data_files.write_fashion_idx(str(tmp_path), FASHION_TRAIN, FASHION_TEST)
    for kwargs, shape in [({}, (28, 28, 1)), ({"image_size": 32}, (32, 32, 1)),
                          ({"image_size": 32, "channels": 3}, (32, 32, 3))]:
        train, test, info = data.load("fashion_mnist", batch_size=4, data_dir=str(tmp_path), **kwargs)
        assert info.input_shape == shape
        assert tuple(next(iter(test))[0].shape) == (4, *shape)
        assert tuple(next(iter(train))[0].shape) == (4, *shape)
    x, _ = next(iter(test))
    # Padding adds a black border (raw 0) around the image.
    assert np.all(np.asarray(x)[:, :2] == 0)


def test_example_limits(tmp_path):
    data_files.write_fashion_idx(str(tmp_path), FASHION_TRAIN, FASHION_TEST)
    train, test, info = data.load("fashion_mnist", batch_size=8, data_dir=str(tmp_path),
                                  max_train_examples=10, max_test_examples=3)
    assert info.train_examples == 10 and info.test_examples == 3
    assert len(_numpy_batches(test)[1]) == 3
    with pytest.raises(ValueError, match="max_train_examples=0"):
        data.load("fashion_mnist", data_dir=str(tmp_path), max_train_examples=0)
