"""tensorflow-datasets as a source: prepared data, and a download only when it can succeed."""

import threading

import numpy as np

from keras_procrustes.optional import require

DOWNLOAD_TIMEOUT_S = 5.0


def builder(spec, data_dir):
    """tensorflow-datasets' builder of `spec`'s data set.

    Args:
        spec: the `DatasetSpec`.
        data_dir: tfds' data folder, or `None` for its own.

    Returns:
        A `tfds.core.DatasetBuilder`.

    Raises:
        MissingExtraError: without tensorflow-datasets (the `train` extra).
    """
    tfds = require("tensorflow_datasets", "train")
    return tfds.builder(spec.name, data_dir=data_dir)


def read_prepared(dataset_builder):
    """Train and test arrays from a prepared tensorflow-datasets builder.

    Args:
        dataset_builder: a builder whose data is prepared.

    Returns:
        `((x_train, y_train), (x_test, y_test))`, int64 labels.
    """
    tfds = require("tensorflow_datasets", "train")
    splits = []
    for split in ("train", "test"):
        images, labels = tfds.as_numpy(
            dataset_builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
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
