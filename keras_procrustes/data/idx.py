"""Fashion-MNIST's idx files (the MNIST format), gzipped or not."""

import gzip
import zlib

import numpy as np

from keras_procrustes.data.datasets import DataSourceError

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def parse_idx(raw, name):
    """An idx file's array (unsigned bytes, the format of LeCun's MNIST page).

    Args:
        raw: the file's bytes, uncompressed.
        name: the file, for messages.

    Returns:
        A uint8 numpy array.

    Raises:
        DataSourceError: for a file that is not an unsigned-byte idx file or
            is truncated.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataSourceError(f"{name} is not an unsigned-byte idx file.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise DataSourceError(
            f"{name} holds {len(raw) - header} bytes of data for shape "
            f"{shape}: it is truncated."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_idx_file(reader, stem):
    """The array of `stem.gz` or `stem` in `reader`, or `None`."""
    for name in (stem + ".gz", stem):
        if reader.has(name):
            raw = reader.read(name)
            if name.endswith(".gz"):
                try:
                    raw = gzip.decompress(raw)
                except (OSError, EOFError, zlib.error) as error:
                    raise DataSourceError(
                        f"{name} in {reader.path} is corrupt or truncated ({error})."
                    ) from error
            return parse_idx(raw, f"{name} in {reader.path}")
    return None


def read_idx(reader, spec):
    """Train and test arrays from Fashion-MNIST idx files.

    Args:
        reader: an `archive.FileReader`.
        spec: the `DatasetSpec` (unused: one layout).

    Returns:
        `((x_train, y_train), (x_test, y_test))` with images `(N, 28, 28, 1)`,
        or `None` when the files are not there.

    Raises:
        DataSourceError: for corrupt files, or images and labels that differ
            in count.
    """
    del spec
    splits = []
    for images_stem, labels_stem in IDX_FILES.values():
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
