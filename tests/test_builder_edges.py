"""The builders at their edges: wrong channel counts, data formats, shapes, damaged weights, old names."""

import re
import warnings

import keras
import numpy as np
import pytest

from keras_procrustes import layers
from keras_procrustes import models
from keras_procrustes.models.weights import load_weights_file

BUILDERS = {
    "procrustes": lambda **kw: models.ProcrustesResNet([1, 1], [4, 8], block_type="basic", **kw),
    "baseline": lambda **kw: models.ProcrustesResNet(
        [1, 1], [4, 8], block_type="basic", procrustes=False, **kw),
    "form2018": lambda **kw: models.ProcrustesResNet2018([1, 1], [4, 8], block_type="basic", **kw),
}


def _images(channels, count=4, size=8):
    return np.random.default_rng(0).integers(0, 255, (count, size, size, channels)).astype("float32")


def _refused_channels(built, received):
    # On TensorFlow, a model that predicted before sees the channels as None.
    return re.escape(f"normalises inputs of shape (None, 8, 8, {built}) per channel (axis 3 "
                     f"of size {built}): the model takes images of that channel count. "
                     "Received inputs of shape ") + rf"\((None|\d+), 8, 8, ({received}|None)\)"


@pytest.mark.parametrize("form", sorted(BUILDERS))
def test_a_model_refuses_images_of_another_channel_count_in_predict_and_fit(form):
    # A fresh model for each refusal: on JAX, Keras' trainer leaves a model
    # whose predict or fit raised without its variables' values.
    rgb = BUILDERS[form](input_shape=(8, 8, 3), classes=3)
    with pytest.raises(ValueError, match=_refused_channels(3, 1)):
        rgb.predict(_images(1), verbose=0)
    rgb = BUILDERS[form](input_shape=(8, 8, 3), classes=3)
    assert rgb.predict(_images(3), verbose=0).shape == (4, 3)
    with pytest.raises(ValueError, match=_refused_channels(3, 1)):
        rgb.predict(_images(1), verbose=0)  # a second trace, on TensorFlow
    rgb = BUILDERS[form](input_shape=(8, 8, 3), classes=3)
    rgb.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=_refused_channels(3, 1)):
        rgb.fit(_images(1), np.zeros(4, "int32"), epochs=1, verbose=0)
    grey = BUILDERS[form](input_shape=(8, 8, 1), classes=3)
    with pytest.raises(ValueError, match=_refused_channels(1, 3)):
        grey.predict(_images(3), verbose=0)


def test_a_loaded_model_refuses_images_of_another_channel_count(tmp_path):
    path = str(tmp_path / "rgb.keras")
    BUILDERS["procrustes"](input_shape=(8, 8, 3), classes=3).save(path)
    loaded = keras.models.load_model(path)
    with pytest.raises(ValueError, match=_refused_channels(3, 1)):
        loaded.predict(_images(1), verbose=0)


@pytest.fixture
def channels_first():
    keras.config.set_image_data_format("channels_first")
    try:
        yield
    finally:
        keras.config.set_image_data_format("channels_last")


@pytest.mark.parametrize("form", sorted(BUILDERS))
def test_a_channels_first_data_format_is_refused_at_build(form, channels_first):
    message = r"channels-last models only.*image_data_format\(\)='channels_first'"
    with pytest.raises(ValueError, match=message):
        BUILDERS[form](input_shape=(8, 8, 3))


def test_the_named_builders_refuse_channels_first_too(channels_first):
    with pytest.raises(ValueError, match="image_data_format"):
        models.get("procresnet22", input_shape=(32, 32, 3))


@pytest.mark.parametrize("form", sorted(BUILDERS))
@pytest.mark.parametrize("shape", [(32, 32, 0), (8, 8, -1), (0, 8, 3), (8, 8, None), (8, 8.0, 3),
                                   (8, 8, True)])
def test_an_input_shape_that_is_not_positive_ints_is_refused_at_build(form, shape):
    with pytest.raises(ValueError, match=re.escape(f"Received input_shape={shape}")):
        BUILDERS[form](input_shape=shape)


@pytest.mark.parametrize("form, size, rule", [
    ("form2018", 9, "multiples of 2"),
    ("procrustes", 2, "at least 4"),
    ("baseline", 2, "at least 4"),
])
def test_the_size_of_input_tensor_is_checked(form, size, rule):
    tensor = keras.Input((size, size, 3))
    with pytest.raises(ValueError, match=rule + re.escape(
            f". Received input_tensor.shape[1:]=({size}, {size}, 3)")):
        BUILDERS[form](input_tensor=tensor)


@pytest.mark.parametrize("form", sorted(BUILDERS))
def test_input_tensor_gives_the_models_shape_and_channels(form):
    # input_shape keeps its default (32, 32, 3); the tensor's shape wins.
    model = BUILDERS[form](input_tensor=keras.Input((8, 8, 1)), classes=3)
    assert model.input_shape == (None, 8, 8, 1)
    assert model.get_layer("normalization").mean.shape[-1] == 1
    assert model.predict(_images(1), verbose=0).shape == (4, 3)
    with pytest.raises(ValueError, match=_refused_channels(1, 3)):
        model.predict(_images(3), verbose=0)


@pytest.mark.parametrize("suffix, save", [
    (".weights.h5", lambda model, path: model.save_weights(path)),
    (".keras", lambda model, path: model.save(path)),
])
def test_a_truncated_weights_file_is_called_damaged_not_another_model(tmp_path, suffix, save):
    options = dict(input_shape=(8, 8, 3), classes=3)
    whole = str(tmp_path / f"whole{suffix}")
    save(models.get("procresnet34", **options), whole)
    with open(whole, "rb") as f:
        data = f.read()
    path = str(tmp_path / f"cut{suffix}")
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError) as info:
        models.get("procresnet34", weights=path, **options)
    message = str(info.value)
    assert message.startswith(f"weights={path!r} can't be read: the file is damaged or truncated")
    assert "another architecture" not in message
    assert models.get("procresnet34", weights=whole, **options) is not None


def test_a_keras_file_with_a_damaged_member_is_named(tmp_path):
    whole = str(tmp_path / "whole.keras")
    models.get("procresnet34", input_shape=(8, 8, 3), classes=3).save(whole)
    data = bytearray(open(whole, "rb").read())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    path = str(tmp_path / "damaged.keras")
    with open(path, "wb") as f:
        f.write(bytes(data))
    with pytest.raises(ValueError, match=r"can't be read: .*damaged or truncated .*checksum"):
        models.get("procresnet34", weights=path, input_shape=(8, 8, 3), classes=3)


def _auto_named_model(block_class):
    """A user's model whose blocks keep the names Keras makes up."""
    inputs = keras.Input((8, 8, 4))
    x = block_class(4, strides=2)(inputs)
    x = layers.IdentityResidualBlock(4)(x)
    x = block_class(8, strides=2)(x)
    return keras.Model(inputs, x)


def _old_auto_named_model():
    from keras_procrustes.layers.deprecated import ProjectionResidualBlock

    keras.backend.clear_session()  # auto names from _0, as in a fresh process
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = _auto_named_model(ProjectionResidualBlock)
    assert [layer.name for layer in old.layers[1:]] == [
        "projection_residual_block", "identity_residual_block", "projection_residual_block_1"]
    return old


def _outputs(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_old_auto_named_blocks_move_into_the_new_class(tmp_path):
    old = _old_auto_named_model()
    keras_path, weights_path = str(tmp_path / "old.keras"), str(tmp_path / "old.weights.h5")
    old.save(keras_path)
    old.save_weights(weights_path)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 4)).astype("float32")
    expected = _outputs(old, x)
    keras.backend.clear_session()
    new = _auto_named_model(layers.ConvShortcutResidualBlock)
    assert new.layers[1].name == "conv_shortcut_residual_block"
    assert np.abs(_outputs(new, x) - expected).max() > 1e-3
    with pytest.warns(FutureWarning, match="convert_weights"):
        loaded = keras.models.load_model(keras_path)
    models.convert_weights(loaded, new)
    np.testing.assert_allclose(_outputs(new, x), expected, atol=1e-5)
    for path in (keras_path, weights_path):
        fresh = _auto_named_model(layers.ConvShortcutResidualBlock)
        load_weights_file(fresh, path)
        np.testing.assert_allclose(_outputs(fresh, x), expected, atol=1e-5)

