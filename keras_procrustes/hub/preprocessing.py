"""The image converter and the classifier's preprocessor, keras-hub style.

The package's models standardise raw pixels inside (`(x - mean) / std` per
channel, `layers.PixelNormalization`); a keras-hub model does it in its
image converter, as `x * scale + offset`. `ProcrustesResNetImageConverter`
takes the same `mean` and `std` (a run's data statistics) and turns them
into keras-hub's `scale` and `offset`.
"""

import keras

from keras_procrustes.hub.backbone import ProcrustesResNetBackbone
from keras_procrustes.models import arguments
from keras_procrustes.optional import require

_hub = require("keras_hub", "hub")


def standardization(channels, mean=None, std=None):
    """keras-hub's `scale` and `offset` of `(x - mean) / std` per channel.

    Args:
        channels: the images' channel count.
        mean: per-channel mean of the raw pixels, or one number; `None` with
            `std=None` maps [0, 255] to [-1, 1] (mean and std 127.5), as the
            package's models do.
        std: per-channel standard deviation, likewise.

    Returns:
        `(scale, offset)`: lists of `channels` floats, `1 / std` and
        `-mean / std`.

    Raises:
        ValueError: naming a bad `mean` or `std` (the models' own check).
    """
    means, stds = arguments.preprocessing_statistics(True, channels, mean, std)
    return [1.0 / s for s in stds], [-m / s for m, s in zip(means, stds)]


@keras.saving.register_keras_serializable(package="keras_procrustes")
class ProcrustesResNetImageConverter(_hub.layers.ImageConverter):
    """Raw pixels in [0, 255] to the standardised images of the backbone.

    Resizes as keras-hub's image converters do (`image_size`), then
    computes `(x - mean) / std` per channel as `x * scale + offset`.

    Args:
        image_size: `(height, width)` to resize to, or `None` to keep it.
        mean: per-channel mean of the training images' raw pixels (or one
            number); `None` with `std=None`: 127.5. Sets `scale` and
            `offset`; give those instead to set them directly.
        std: per-channel standard deviation, likewise.
        channels: the channel count `mean` and `std` are for (3: RGB).
        **kwargs: `keras_hub.layers.ImageConverter` arguments (`scale`,
            `offset`, `interpolation`, `crop_to_aspect_ratio`, ...).

    Raises:
        ValueError: naming a bad `mean` or `std`.

    Example:
    >>> converter = ProcrustesResNetImageConverter((32, 32), mean=[125.3, 123.0, 113.9],
    ...                                            std=[63.0, 62.1, 66.7])
    >>> converter(np.full((1, 32, 32, 3), 255, "uint8")).shape  # (1, 32, 32, 3)
    """

    backbone_cls = ProcrustesResNetBackbone

    def __init__(self, image_size=None, mean=None, std=None, channels=3, **kwargs):
        if "scale" not in kwargs and "offset" not in kwargs:
            kwargs["scale"], kwargs["offset"] = standardization(channels, mean, std)
        super().__init__(image_size=image_size, **kwargs)


@keras.saving.register_keras_serializable(package="keras_procrustes")
class ProcrustesResNetImageClassifierPreprocessor(_hub.models.ImageClassifierPreprocessor):
    """The preprocessor of `ProcrustesResNetImageClassifier`: its image converter.

    It takes `keras_hub.models.ImageClassifierPreprocessor`'s arguments:
    `image_converter`, a `ProcrustesResNetImageConverter` or `None`, and the
    layer's (`name`, `dtype`, ...).

    Example:
    >>> preprocessor = ProcrustesResNetImageClassifierPreprocessor(
    ...     ProcrustesResNetImageConverter((32, 32)))
    """

    backbone_cls = ProcrustesResNetBackbone
    image_converter_cls = ProcrustesResNetImageConverter
