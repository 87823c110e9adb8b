"""`training.fit` on arrays at their edges: each bad array is named before a model is built."""

import os
import re

import keras
import numpy as np
import pytest

from keras_procrustes import models
from keras_procrustes.data import load_splits
from keras_procrustes.training import fit
from keras_procrustes.training.errors import OptionError


def _arrays(count=32, shape=(8, 8, 1), classes=2):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (count, *shape), dtype="uint8")
    y = (np.arange(count) % classes).astype("int64")
    return x, y


def _with(**changes):
    """`((x, y), (x, y))` with some arrays replaced."""
    x, y = _arrays()
    split = {"x_train": x, "y_train": y, "x_test": x, "y_test": y, **changes}
    return (split["x_train"], split["y_train"]), (split["x_test"], split["y_test"])


X, Y = _arrays()

BAD_ARRAYS = {
    "negative_label": (_with(y_train=np.where(Y == 1, -1, Y)), "class indices from 0. "
                       "Received y_train[1]=-1"),
    "fewer_labels": (_with(y_train=Y[:20]), "as many labels as images. Received x_train of "
                     "shape (32, 8, 8, 1) and y_train of shape (20,)"),
    "fewer_test_images": (_with(x_test=X[:5]), "x_test of shape (5, 8, 8, 1) and y_test of "
                          "shape (32,)"),
    "empty_train": (_with(x_train=X[:0], y_train=Y[:0]), "the train split holds examples. "
                    "Received x_train of shape (0, 8, 8, 1)"),
    "empty_test": (_with(x_test=X[:0], y_test=Y[:0]), "the test split holds examples"),
    "one_hot": (_with(y_train=np.eye(2)[Y]), "(N,) or (N, 1) (one-hot labels: pass "
                "y.argmax(-1)). Received y_train of shape (32, 2)"),
    "float_labels": (_with(y_train=Y + 0.5), "int class indices. Received y_train of dtype "
                     "float64, starting [0.5, 1.5, 0.5]"),
    "five_dims": (_with(x_train=X[..., None]), "(N, height, width) for grey images. Received "
                  "x_train of shape (32, 8, 8, 1, 1)"),
    "test_of_another_size": (_with(x_test=X[:, :4]), "test images have the training images' "
                             "shape. Received x_train of shape (32, 8, 8, 1) and x_test of "
                             "shape (32, 4, 8, 1)"),
    "nan_images": (_with(x_train=np.where(np.arange(32)[:, None, None, None] == 3, np.nan,
                                          X.astype("float32"))),
                   "images hold finite pixel values (these contain NaN or infinity). "
                   "Received x_train[3, 0, 0, 0]=nan"),
    "one_split": (((X, Y),), "two splits. Received a tuple"),
    "split_of_three": (((X, Y, Y), (X, Y)), "the train split is a pair (x_train, y_train). "
                       "Received a tuple for it"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARRAYS))
def test_fit_names_bad_arrays_before_it_builds_or_touches_the_folder(tmp_path, case):
    dataset, message = BAD_ARRAYS[case]
    log_dir = tmp_path / "run"
    with pytest.raises(ValueError, match=r"^`dataset` must be a data set name or "
                       + re.escape("((x_train, y_train), (x_test, y_test)) arrays: ")
                       + ".*" + re.escape(message)):
        fit("procresnet13_bottleneck", dataset, epochs=1, batch_size=16, verbose=0,
            log_dir=str(log_dir))
    assert not os.path.exists(log_dir)


def test_fit_names_labels_beyond_a_given_models_classes(tmp_path):
    x, y = _arrays(classes=5)
    model = models.get("procresnet13_bottleneck", input_shape=(8, 8, 1), classes=3)
    with pytest.raises(ValueError, match=re.escape(
            f"model_or_name={model.name!r} outputs 3 classes (output shape (None, 3)); the "
            "labels of `dataset` need 5 (labels 0 to 4). Build the model with classes=5.")):
        fit(model, ((x, y), (x, y)), epochs=1, log_dir=str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_grey_images_without_a_channel_axis_get_one():
    x, y = _arrays(count=8)
    (x_train, y_train), (x_test, _), info = load_splits(((x[..., 0], y[:, None]), (x[..., 0], y)))
    assert x_train.shape == x_test.shape == (8, 8, 8, 1) and y_train.shape == (8,)
    np.testing.assert_array_equal(x_train, x)
    assert tuple(info.input_shape) == (8, 8, 1) and info.classes == 2


def test_fit_trains_on_grey_images_without_a_channel_axis(tmp_path):
    x, y = _arrays(count=32)
    metrics = fit("procresnet13_bottleneck", ((x[..., 0], y[:, None]), (x[..., 0], y)),
                  epochs=1, batch_size=16, verbose=0, log_dir=str(tmp_path / "run"))
    assert metrics["epochs_done"] == 1
    best = keras.models.load_model(tmp_path / "run" / "best.keras")
    assert best.input_shape == (None, 8, 8, 1)
    assert best.predict(x, verbose=0).shape == (32, 2)


def test_fit_refuses_more_steps_than_a_step_counter_holds(tmp_path):
    x, y = _arrays()
    with pytest.raises(OptionError, match=re.escape(
            "epochs=1073741824: gives 4294967296 steps (4 per epoch), more than a step "
            "counter holds (2147483647)")):
        fit("procresnet13_bottleneck", ((x, y), (x, y)), epochs=2**30, batch_size=8,
            verbose=0, log_dir=str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")
