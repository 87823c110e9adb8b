"""tf.data input pipelines: normalisation, the paper's augmentation, batching.

This is the training side of the package, so it uses TensorFlow directly;
the datasets it returns feed `model.fit` on the TensorFlow and JAX backends.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_procrustes.data import sources

PAD_PIXELS = 4


@dataclasses.dataclass
class DataInfo:
    """What a model needs to know of its data.

    Attributes:
        name: the data set's name.
        classes: number of classes.
        input_shape: `(height, width, channels)` the pipeline yields.
        train_examples: examples per training epoch.
        test_examples: examples in the test split.
        source: where the arrays were read from.
        mean: per-channel mean of the training images, in [0, 255].
        std: per-channel standard deviation, in [0, 255].
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


def output_shape(image_shape, image_size=None, channels=None):
    """The shape the pipeline yields for `image_shape` and the options."""
    height, width, depth = image_shape
    if image_size is not None:
        height = width = image_size
    return (height, width, channels or depth)


def _to_size(image, image_size):
    """Zero-pads (after normalisation: the mean colour) or resizes."""
    height, width = image.shape[0], image.shape[1]
    if height == image_size and width == image_size:
        return image
    if height <= image_size and width <= image_size and (image_size - height) % 2 == 0:
        return tf.image.resize_with_crop_or_pad(image, image_size, image_size)
    return tf.image.resize(image, (image_size, image_size))


def _augment(image):
    """Random horizontal flip, 4-pixel zero pad, random crop back."""
    height, width, depth = image.shape
    image = tf.image.random_flip_left_right(image)
    image = tf.pad(image, [[PAD_PIXELS, PAD_PIXELS], [PAD_PIXELS, PAD_PIXELS], [0, 0]])
    return tf.image.random_crop(image, (height, width, depth))


def make_dataset(
    images,
    labels,
    batch_size,
    mean,
    std,
    training=False,
    augment=True,
    image_size=None,
    channels=None,
    seed=None,
):
    """A batched, prefetched tf.data pipeline over in-memory arrays.

    Args:
        images: uint8 `(N, H, W, C)`.
        labels: int `(N,)`.
        batch_size: examples per batch (the global batch).
        mean: per-channel mean in [0, 255].
        std: per-channel standard deviation in [0, 255].
        training: shuffle every epoch and augment.
        augment: flip, pad and crop when training.
        image_size: pad (or resize) to `image_size x image_size`.
        channels: `3` turns grey images to RGB; `None` keeps them.
        seed: shuffle seed.

    Returns:
        A `tf.data.Dataset` of `(float32 images, int32 labels)` batches.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be positive. Received batch_size={batch_size}")
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)

    def preprocess(image, label):
        image = (tf.cast(image, tf.float32) - mean) / std
        if channels == 3 and image.shape[-1] == 1:
            image = tf.image.grayscale_to_rgb(image)
        if image_size is not None:
            image = _to_size(image, image_size)
        if training and augment:
            image = _augment(image)
        return image, tf.cast(label, tf.int32)

    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if training:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _first(images, labels, count, option):
    """The first `count` examples (all for `None`)."""
    if count is None:
        return images, labels
    if count < 1:
        raise ValueError(f"`{option}` must be positive. Received {option}={count}")
    return images[:count], labels[:count]


def load(
    name,
    batch_size=128,
    data_dir=None,
    download=True,
    image_size=None,
    channels=None,
    max_train_examples=None,
    max_test_examples=None,
    augment=True,
    seed=0,
):
    """Training and test pipelines of a data set, with its `DataInfo`.

    Args:
        name: `"cifar10"`, `"cifar100"` or `"fashion_mnist"`.
        batch_size: the global batch size.
        data_dir: a local folder or archive; see `sources.load_arrays`.
        download: allow tensorflow-datasets to download.
        image_size: pad or resize images to this square size (e.g. 32 for
            Fashion-MNIST's 28x28).
        channels: `3` to turn grey images into RGB.
        max_train_examples: keep only the first this many training examples
            (for short runs).
        max_test_examples: likewise for the test split.
        augment: flip/pad/crop the training images.
        seed: shuffle seed.

    Returns:
        `(train_dataset, test_dataset, DataInfo)`.

    Example:
    >>> train, test, info = load("fashion_mnist", batch_size=64, image_size=32)
    """
    (x_train, y_train), (x_test, y_test), source = sources.load_arrays(
        name, data_dir=data_dir, download=download
    )
    x_train, y_train = _first(x_train, y_train, max_train_examples, "max_train_examples")
    x_test, y_test = _first(x_test, y_test, max_test_examples, "max_test_examples")
    mean, std = channel_stats(x_train)
    common = dict(batch_size=batch_size, mean=mean, std=std, image_size=image_size, channels=channels)
    train = make_dataset(x_train, y_train, training=True, augment=augment, seed=seed, **common)
    test = make_dataset(x_test, y_test, **common)
    spec = sources.get_spec(name)
    info = DataInfo(
        name=name,
        classes=spec.classes,
        input_shape=output_shape(spec.image_shape, image_size, channels),
        train_examples=len(x_train),
        test_examples=len(x_test),
        source=source,
        mean=mean.tolist(),
        std=std.tolist(),
    )
    return train, test, info
