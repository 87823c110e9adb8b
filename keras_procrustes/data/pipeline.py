"""tf.data input pipelines: raw pixels, the paper's augmentation, batching.

The pipelines yield raw pixel values (float32 in [0, 255]): normalisation
belongs to the model (`include_preprocessing=True` in the builders), so a
saved model predicts on raw images. Training order and augmentation are
stateless functions of `(seed, epoch, example)`: a seeded run draws the same
batches in every process, and a resumed epoch sees its own order.

This is the training side of the package, so it uses TensorFlow directly;
the datasets feed `model.fit` on the TensorFlow, JAX and torch backends.
"""

import numpy as np

from keras_procrustes.optional import require

tf = require("tensorflow", "train")

PAD_PIXELS = 4


def output_shape(image_shape, image_size=None, channels=None):
    """The shape the pipeline yields for `image_shape` and the options."""
    height, width, depth = image_shape
    if image_size is not None:
        height = width = image_size
    return (height, width, channels or depth)


def _to_size(image, image_size):
    """Zero-pads (black border) or resizes to `image_size` squared."""
    height, width = image.shape[0], image.shape[1]
    if height == image_size and width == image_size:
        return image
    if height <= image_size and width <= image_size and (image_size - height) % 2 == 0:
        return tf.image.resize_with_crop_or_pad(image, image_size, image_size)
    return tf.image.resize(image, (image_size, image_size))


def _prepare(image, image_size, channels):
    """uint8 image -> float32 raw pixels of the pipeline's shape."""
    image = tf.cast(image, tf.float32)
    if channels == 3 and image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    if image_size is not None:
        image = _to_size(image, image_size)
    return image


def _augment(image, seed):
    """Random horizontal flip, 4-pixel zero pad, random crop back; stateless."""
    flip_seed, crop_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    padded = tf.pad(image, [[PAD_PIXELS, PAD_PIXELS], [PAD_PIXELS, PAD_PIXELS], [0, 0]])
    return tf.image.stateless_random_crop(padded, tf.shape(image), crop_seed)


def prepare_images(images, image_size=None, channels=None):
    """Raw float32 pixels of uint8 images, as the pipelines yield them.

    Args:
        images: uint8 `(N, H, W, C)`.
        image_size: pad (or resize) to `image_size x image_size`.
        channels: `3` turns grey images to RGB; `None` keeps them.

    Returns:
        A float32 numpy array.
    """
    return np.stack([_prepare(image, image_size, channels).numpy() for image in images])


def steps_per_epoch(examples, batch_size, drop_remainder=False):
    """Batches in one epoch of `examples`."""
    return examples // batch_size if drop_remainder else -(-examples // batch_size)


def train_dataset(
    images,
    labels,
    batch_size,
    epochs,
    first_epoch=0,
    seed=0,
    augment=True,
    image_size=None,
    channels=None,
    drop_remainder=False,
    shard=(0, 1),
):
    """Training batches of epochs `first_epoch` to `epochs - 1`, in one stream.

    Each epoch's order is a permutation drawn from `(seed, epoch)` and each
    image's flip and crop from `(seed, epoch, index)`, so the stream is the
    same in every process, and a run resumed at epoch `k` (with
    `first_epoch=k`) sees epoch `k`'s own order. Pass it to `model.fit` with
    `steps_per_epoch=steps_per_epoch(len(images), batch_size, drop_remainder)`
    and `initial_epoch=first_epoch`.

    Args:
        images: uint8 `(N, H, W, C)`.
        labels: int `(N,)`.
        batch_size: examples per batch (the global batch).
        epochs: the epoch to stop before.
        first_epoch: the first epoch the stream holds.
        seed: an int.
        augment: flip, pad and crop.
        image_size: pad (or resize) to `image_size x image_size`.
        channels: `3` turns grey images to RGB; `None` keeps them.
        drop_remainder: drop each epoch's last, short batch (several
            replicas: a short batch can leave a replica empty).
        shard: `(index, count)`: this process is `index` of `count`
            processes and yields only its slice of every global batch
            (`batch_size // count` examples: the `index`-th); it reads,
            decodes and augments only those. Needs `drop_remainder` when
            `count > 1`.

    Returns:
        A `tf.data.Dataset` of `(float32 images, int32 labels)` batches.

    Raises:
        ValueError: for a bad `shard`, or `count > 1` without `drop_remainder`.
    """
    index, shards = _check_shard(shard, batch_size)
    if shards > 1 and not drop_remainder:
        raise ValueError(f"shard={shard}: sharded training batches need drop_remainder=True")
    count = len(images)
    images = tf.constant(images)
    labels = tf.constant(np.asarray(labels, "int32"))
    seed = tf.constant(seed, tf.int64)

    def example(epoch, index):
        image = _prepare(tf.gather(images, index), image_size, channels)
        if augment:
            image = _augment(image, tf.stack([seed, epoch * count + index]))
        return image, tf.gather(labels, index)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([seed, epoch])
        )
        if shards > 1:
            steps = count // batch_size
            order = tf.reshape(order[: steps * batch_size], (steps, shards, -1))
            order = tf.reshape(order[:, index], (-1,))
        examples = tf.data.Dataset.from_tensor_slices(order).map(
            lambda position: example(epoch, position), num_parallel_calls=tf.data.AUTOTUNE
        )
        return examples.batch(batch_size // shards, drop_remainder=drop_remainder)

    batches = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_batches)
    total = (epochs - first_epoch) * steps_per_epoch(count, batch_size, drop_remainder)
    return batches.apply(tf.data.experimental.assert_cardinality(total)).prefetch(
        tf.data.AUTOTUNE
    )


def _check_shard(shard, batch_size):
    index, count = shard
    if not (0 <= index < count and batch_size % count == 0):
        raise ValueError(f"shard={shard}: needs 0 <= index < count and a batch size "
                         f"({batch_size}) divisible by count")
    return index, count


def _shard_positions(total, batch_size, index, count):
    """The positions process `index` of `count` takes from global batches."""
    positions = []
    for start in range(0, total, batch_size):
        size = min(batch_size, total - start) // count
        positions.extend(range(start + index * size, start + (index + 1) * size))
    return np.asarray(positions, "int64")


def eval_dataset(images, labels, batch_size, image_size=None, channels=None, pad_to_multiple=1,
                 shard=(0, 1)):
    """Evaluation batches in order, every example counted once.

    With `pad_to_multiple > 1` (the replica count) the split is padded with
    black images of weight 0 to a multiple of it, so no replica gets an
    empty batch; the batches are then `(images, labels, weights)`, and a
    metric compiled as a weighted metric ignores the padding.

    Args:
        images: uint8 `(N, H, W, C)`.
        labels: int `(N,)`.
        batch_size: examples per batch (a multiple of `pad_to_multiple`).
        image_size: pad (or resize) to `image_size x image_size`.
        channels: `3` turns grey images to RGB; `None` keeps them.
        pad_to_multiple: pad the split to a multiple of this.
        shard: `(index, count)`: yield only this process's slice of every
            global batch (`pad_to_multiple` must be a multiple of `count`).

    Returns:
        A `tf.data.Dataset` of batches.

    Raises:
        ValueError: for a bad `shard`, or a `pad_to_multiple` that is not a
            multiple of its count.
    """
    index, shards = _check_shard(shard, batch_size)
    if pad_to_multiple % shards:
        raise ValueError(f"shard={shard}: pad_to_multiple={pad_to_multiple} must be a "
                         "multiple of the shard count")
    labels = np.asarray(labels, "int32")
    padding = -len(images) % pad_to_multiple
    elements = (images, labels)
    if padding:
        images = np.concatenate([images, np.zeros((padding, *images.shape[1:]), images.dtype)])
        weights = np.concatenate([np.ones(len(labels), "float32"), np.zeros(padding, "float32")])
        elements = (images, np.concatenate([labels, np.zeros(padding, "int32")]), weights)

    def example(image, label, *weight):
        return (_prepare(image, image_size, channels), label, *weight)

    if shards > 1:
        positions = _shard_positions(len(elements[0]), batch_size, index, shards)
        elements = tuple(element[positions] for element in elements)
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    dataset = dataset.map(example, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size // shards).prefetch(tf.data.AUTOTUNE)
