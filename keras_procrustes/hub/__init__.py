"""Procrustes ResNets for KerasHub (the `[hub]` extra: keras-hub).

The map:
- `backbone`: `ProcrustesResNetBackbone`, a keras-hub
  `FeaturePyramidBackbone` of any `models.get` architecture;
- `preprocessing`: `ProcrustesResNetImageConverter` (raw pixels to the
  standardised images) and `ProcrustesResNetImageClassifierPreprocessor`;
- `image_classifier`: `ProcrustesResNetImageClassifier`, the task with each
  form's own head;
- `run_preset`: `save_run_as_preset` (a run folder of `training.fit` as a
  preset directory) and `classifier_from_model`; `model_card` writes the
  preset's README.md;
- `presets`: the checks of a preset directory and `PresetError`;
- `class_names`: the data sets' class names.

Importing this module registers the classes with Keras, so that
`keras_hub.models.ImageClassifier.from_preset(preset_dir)` can rebuild them.
"""

from keras_procrustes.hub.backbone import ProcrustesResNetBackbone
from keras_procrustes.hub.image_classifier import ProcrustesResNetImageClassifier
from keras_procrustes.hub.preprocessing import ProcrustesResNetImageClassifierPreprocessor
from keras_procrustes.hub.preprocessing import ProcrustesResNetImageConverter
from keras_procrustes.hub.presets import FORMAT_VERSION
from keras_procrustes.hub.presets import PresetError
from keras_procrustes.hub.run_preset import classifier_from_model
from keras_procrustes.hub.run_preset import save_run_as_preset

__all__ = [
    "FORMAT_VERSION",
    "PresetError",
    "ProcrustesResNetBackbone",
    "ProcrustesResNetImageClassifier",
    "ProcrustesResNetImageClassifierPreprocessor",
    "ProcrustesResNetImageConverter",
    "classifier_from_model",
    "save_run_as_preset",
]
