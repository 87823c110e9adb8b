"""A run's data: the uint8 train and test splits, cut to size, and their `DataInfo`.

`load_splits` takes a data set name (read by `sources.load_arrays`) or
arrays a user already holds, and describes both the same way; `load` adds
the tf.data pipelines.
"""

import dataclasses

import numpy as np

from keras_procrustes.data import arrays
from keras_procrustes.data import pipeline
from keras_procrustes.data import sources
from keras_procrustes.data.datasets import get_spec

#: `DataInfo.name` and `.source` of arrays given by the caller.
ARRAYS = "arrays"


@dataclasses.dataclass
class DataInfo:
    """What a model needs to know of its data.

    Attributes:
        name: the data set's name (`"arrays"` for arrays given by the caller).
        classes: number of classes.
        input_shape: `(height, width, channels)` the pipeline yields.
        train_examples: examples in the training split.
        test_examples: examples in the test split.
        source: where the arrays were read from.
        mean: per-channel mean of the training images, in [0, 255], for
            the channels the pipeline yields.
        std: per-channel standard deviation, likewise.
    """

    name: str
    classes: int
    input_shape: tuple
    train_examples: int
    test_examples: int
    source: str
    mean: list
    std: list


def channel_stats(images):
    """Per-channel mean and standard deviation of uint8 images.

    Args:
        images: `(N, H, W, C)` array.

    Returns:
        `(mean, std)`, two float32 arrays of shape `(C,)`, in [0, 255].
    """
    pixels = np.asarray(images, dtype=np.float64).reshape(-1, images.shape[-1])
    return pixels.mean(axis=0).astype("float32"), pixels.std(axis=0).astype("float32")


def _first(images, labels, count, option):
    """The first `count` examples (all for `None`)."""
    if count is None:
        return images, labels
    if count < 1:
        raise ValueError(f"`{option}` must be positive. Received {option}={count}")
    return images[:count], labels[:count]


def _read(dataset, data_dir, download):
    """`(train, test, name, classes, source)` of a name or of given arrays."""
    if isinstance(dataset, str):
        train, test, source = sources.load_arrays(dataset, data_dir=data_dir, download=download)
        return train, test, dataset, get_spec(dataset).classes, source
    train, test = arrays.check_arrays(dataset)
    return train, test, ARRAYS, arrays.classes_of(train[1], test[1]), ARRAYS


def load_splits(
    name,
    data_dir=None,
    download=True,
    image_size=None,
    channels=None,
    max_train_examples=None,
    max_test_examples=None,
):
    """A data set's uint8 arrays, cut to size, with its `DataInfo`.

    Args:
        name: `"cifar10"`, `"cifar100"` or `"fashion_mnist"`; or arrays
            `((x_train, y_train), (x_test, y_test))` (uint8 images
            `(N, H, W, C)`, or `(N, H, W)` grey images, which get a channel
            axis; int labels from 0, `(N,)` or `(N, 1)`; the classes are the
            largest label plus one), checked by `arrays.check_arrays`.
        data_dir: a local folder or archive; see `sources.load_arrays`.
        download: allow tensorflow-datasets to download.
        image_size: the size the pipelines will pad or resize to.
        channels: `3` if the pipelines turn grey images into RGB.
        max_train_examples: keep only the first this many training examples.
        max_test_examples: likewise for the test split.

    Returns:
        `((x_train, y_train), (x_test, y_test), DataInfo)`; `DataInfo.mean`
        and `std` are those of the training split as the pipeline yields it.

    Raises:
        ValueError: for an unknown name, arrays a run can't use (see
            `arrays.check_arrays`) or a `max_*_examples` below 1.
        DataSourceError: when no source has the data (see `load_arrays`).
    """
    (x_train, y_train), (x_test, y_test), label, classes, source = _read(
        name, data_dir, download)
    x_train, y_train = _first(x_train, y_train, max_train_examples, "max_train_examples")
    x_test, y_test = _first(x_test, y_test, max_test_examples, "max_test_examples")
    mean, std = channel_stats(x_train)
    if channels == 3 and x_train.shape[-1] == 1:
        mean, std = np.repeat(mean, 3), np.repeat(std, 3)
    info = DataInfo(
        name=label,
        classes=classes,
        input_shape=pipeline.output_shape(x_train.shape[1:], image_size, channels),
        train_examples=len(x_train),
        test_examples=len(x_test),
        source=source,
        mean=mean.tolist(),
        std=std.tolist(),
    )
    return (x_train, y_train), (x_test, y_test), info


def load(name, batch_size=128, epochs=1, augment=True, seed=0, **options):
    """Training and test pipelines of a data set, with its `DataInfo`.

    Args:
        name: `"cifar10"`, `"cifar100"` or `"fashion_mnist"`.
        batch_size: the global batch size.
        epochs: epochs the training stream holds.
        augment: flip/pad/crop the training images.
        seed: order and augmentation seed.
        **options: `load_splits` options (`data_dir`, `image_size`, ...).

    Returns:
        `(train_dataset, test_dataset, DataInfo)`.

    Raises:
        ValueError: for a `batch_size` below 1, or a bad `load_splits` option.
        DataSourceError: when no source has the data.

    Example:
    >>> train, test, info = load("fashion_mnist", batch_size=64, image_size=32)
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be positive. Received batch_size={batch_size}")
    (x_train, y_train), (x_test, y_test), info = load_splits(name, **options)
    shape = dict(image_size=options.get("image_size"), channels=options.get("channels"))
    train = pipeline.train_dataset(
        x_train, y_train, batch_size, epochs, seed=seed, augment=augment, **shape
    )
    return train, pipeline.eval_dataset(x_test, y_test, batch_size, **shape), info
