"""Checks a user's `((x_train, y_train), (x_test, y_test))` arrays and puts them in one form.

Images become `(N, height, width, channels)`: grey images given as
`(N, height, width)`, as `keras.datasets.fashion_mnist.load_data()` and
`mnist.load_data()` return them, get a channel axis of 1. Labels become
int64 class indices `(N,)`: `(N, 1)`, as `keras.datasets.cifar10.load_data()`
returns them, loses its last axis. Everything else that a run can't use is
refused with a ValueError naming `dataset`, the array and its bad value,
before a model is built.
"""

import numpy as np

#: The form `dataset` takes when it is not a name.
FORM = "((x_train, y_train), (x_test, y_test))"


def _refuse(requirement, received):
    raise ValueError(f"`dataset` must be a data set name or {FORM} arrays: {requirement}. "
                     f"Received {received}")


def _images(x, name):
    """`x` as `(N, height, width, channels)`, a grey `(N, height, width)` given an axis."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or 0 in x.shape[1:]:
        _refuse("images are (N, height, width, channels), or (N, height, width) for "
                "grey images", f"{name} of shape {x.shape}")
    if np.issubdtype(x.dtype, np.inexact) and not np.all(np.isfinite(x)):
        index = np.unravel_index(int(np.argmin(np.isfinite(x))), x.shape)
        _refuse("images hold finite pixel values (these contain NaN or infinity)",
                f"{name}[{', '.join(map(str, index))}]={x[index].item()}")
    return x


def _labels(y, name):
    """`y` as int64 class indices `(N,)`."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        _refuse("labels are class indices of shape (N,) or (N, 1) (one-hot labels: "
                "pass y.argmax(-1))", f"{name} of shape {y.shape}")
    whole = np.issubdtype(y.dtype, np.integer) or (
        np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y))
    )
    if not whole:
        bad = y[: min(len(y), 3)].tolist()
        _refuse("labels are int class indices", f"{name} of dtype {y.dtype}, starting {bad}")
    y = y.astype("int64")
    if len(y) and y.min() < 0:
        index = int(np.argmin(y))
        _refuse("labels are class indices from 0", f"{name}[{index}]={int(y[index])}")
    return y


def _split(split, which):
    """`(x, y)` of one split, checked."""
    try:
        x, y = split
    except (TypeError, ValueError):
        _refuse(f"the {which} split is a pair (x_{which}, y_{which})",
                f"a {type(split).__name__} for it")
    x, y = _images(x, f"x_{which}"), _labels(y, f"y_{which}")
    if len(x) != len(y):
        _refuse("each split has as many labels as images",
                f"x_{which} of shape {x.shape} and y_{which} of shape {y.shape}")
    if len(x) == 0:
        _refuse(f"the {which} split holds examples", f"x_{which} of shape {x.shape}")
    return x, y


def check_arrays(dataset):
    """The arrays of `dataset`, checked, images with a channel axis, labels `(N,)`.

    Args:
        dataset: `((x_train, y_train), (x_test, y_test))`: images `(N, H,
            W, C)` or grey `(N, H, W)`, int labels from 0 `(N,)` or `(N, 1)`.

    Returns:
        `((x_train, y_train), (x_test, y_test))` NumPy arrays, images
        `(N, H, W, C)`, labels int64 `(N,)`.

    Raises:
        ValueError: naming `dataset` and the first bad array: not a pair of
            pairs, images of another rank, labels that are not int class
            indices from 0, a split with more images than labels (or
            fewer), an empty split, or test images of another shape.
    """
    try:
        train, test = dataset
    except (TypeError, ValueError):
        _refuse("two splits", f"a {type(dataset).__name__}")
    (x_train, y_train), (x_test, y_test) = _split(train, "train"), _split(test, "test")
    if x_test.shape[1:] != x_train.shape[1:]:
        _refuse("test images have the training images' shape",
                f"x_train of shape {x_train.shape} and x_test of shape {x_test.shape}")
    return (x_train, y_train), (x_test, y_test)


def classes_of(y_train, y_test):
    """The class count of checked labels: the largest label plus one.

    Args:
        y_train: int labels from 0.
        y_test: int labels from 0.

    Returns:
        An int.
    """
    return int(max(np.max(y_train), np.max(y_test))) + 1
