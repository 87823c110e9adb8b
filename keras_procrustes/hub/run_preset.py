"""A trained model, or a run folder of `training.fit`, as a keras-hub preset.

`classifier_from_model` moves a model of `models.get` (a run's
`best.keras`) into a `ProcrustesResNetImageClassifier`, layer by layer
under the same names; `save_run_as_preset` writes a run folder's best model,
its data statistics and class names as a preset directory with a model card.
"""

import math
import os
import re
import shutil
import tempfile
import zipfile

import keras

from keras_procrustes.hub import model_card
from keras_procrustes.hub import presets
from keras_procrustes.hub.backbone import ProcrustesResNetBackbone
from keras_procrustes.hub.class_names import CLASS_NAMES
from keras_procrustes.hub.image_classifier import ProcrustesResNetImageClassifier
from keras_procrustes.hub.preprocessing import ProcrustesResNetImageClassifierPreprocessor
from keras_procrustes.hub.preprocessing import ProcrustesResNetImageConverter
from keras_procrustes.hub.presets import PresetError
from keras_procrustes.models import names
from keras_procrustes.models import registry
from keras_procrustes.training.run import names as run_names
from keras_procrustes.training.run.manifest import MODEL_NAMES

_STACK = re.compile(r"stage[0-9]+_stack")
_PROJECTION_KEYS = ("probability", "engine", "iterations", "seed")
# What a preset directory of this package holds: it replaces only such a one.
# (keras-hub writes `assets/` for tokenizers only: a folder of that name is
# not ours.)
PRESET_FILES = frozenset(presets.JSON_FILES + presets.WEIGHTS_FILES + (
    "image_converter.json", "README.md"))


def _backbone_options(model):
    """The backbone arguments that rebuild `model`'s layers as they were.

    The dtype is the variables' (float32 after mixed-precision training):
    keras-hub 0.32 can't load a preset saved under a mixed policy, and
    `from_preset(..., dtype="mixed_bfloat16")` computes in it again.
    """
    options = {"scan": any(_STACK.fullmatch(layer.name) for layer in model.layers),
               "dtype": model.get_layer("post_bn").dtype_policy.variable_dtype}
    for layer in model.layers:
        config = layer.get_config()
        if all(key in config for key in _PROJECTION_KEYS):
            options.update({f"projection_{key}": config[key] for key in _PROJECTION_KEYS[:3]})
            options["seed"] = config["seed"]
            break
    return options


def _converter(model):
    """The image converter of `model`'s own input standardisation (if any)."""
    size = tuple(model.input_shape[1:3])
    try:
        config = model.get_layer("normalization").get_config()
    except ValueError:
        return ProcrustesResNetImageConverter(size, scale=None, offset=None)
    std = [math.sqrt(v) for v in config["variance"]]
    return ProcrustesResNetImageConverter(size, mean=config["mean"], std=std,
                                          channels=len(std))


def _copy_weights(model, classifier, where):
    """Sets every layer of `classifier` from `model`'s layer of the same name."""
    targets = classifier.backbone.layers + [classifier.pooler, classifier.output_dense]
    targets = [layer for layer in targets if layer.weights]
    sources = {layer.name for layer in model.layers if layer.weights}
    if sources != {layer.name for layer in targets}:
        raise PresetError(
            f"{where}: its layers with weights {sorted(sources)} are not those of "
            f"{classifier.backbone.architecture!r}'s backbone and head")
    for layer in targets:
        layer.set_weights(model.get_layer(layer.name).get_weights())


def classifier_from_model(model, architecture=None, class_names=None, where="the model"):
    """A model of `models.get` (a `best.keras`) as a keras-hub classifier.

    Args:
        model: a model built by `keras_procrustes.models` with its top.
        architecture: its `models.get` name; `None`: the model's name.
        class_names: optional names of its classes, in label order.
        where: what the model is, for messages (a file's path).

    Returns:
        A `ProcrustesResNetImageClassifier` with `model`'s weights, its
        classifier activation, and a preprocessor that standardises raw
        pixels as `model` did; it predicts what `model` predicts.

    Raises:
        PresetError: (a ValueError) naming `where` for a model of another
            family (not a registry name, or other layers).
    """
    architecture = architecture or model.name
    try:
        registry.canonical_name(architecture)
        backbone = ProcrustesResNetBackbone(
            architecture, image_shape=model.input_shape[1:], **_backbone_options(model))
    except ValueError as error:
        raise PresetError(f"{where} is not a keras_procrustes model ({error})") from None
    head = model.get_layer("predictions").get_config()
    classifier = ProcrustesResNetImageClassifier(
        backbone, num_classes=head["units"], activation=head["activation"],
        class_names=class_names,
        preprocessor=ProcrustesResNetImageClassifierPreprocessor(_converter(model)))
    _copy_weights(model, classifier, where)
    return classifier


def _load_best(run_dir):
    """The run's `best.keras`, or a `PresetError` naming it."""
    path = os.path.join(run_dir, run_names.BEST_MODEL)
    if not os.path.isfile(path):
        raise PresetError(f"{path} is missing: is {run_dir} a run folder of a finished fit?")
    try:
        return keras.saving.load_model(path, compile=False)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise PresetError(f"{path} can't be loaded (truncated or damaged?): {error}") from None


def _read_run(run_dir):
    """The run's manifest and metrics, each file checked."""
    manifest = presets.read_json(os.path.join(run_dir, run_names.MANIFEST))
    metrics = presets.read_json(os.path.join(run_dir, run_names.METRICS))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("options"), dict):
        raise PresetError(f"{os.path.join(run_dir, run_names.MANIFEST)} is not "
                          "a run manifest of keras_procrustes")
    return manifest, metrics if isinstance(metrics, dict) else {}


def _check_destination(preset_dir):
    """Refuses a non-empty `preset_dir` that is not a preset of this package."""
    if not os.path.exists(preset_dir):
        return
    if not os.path.isdir(preset_dir):
        raise PresetError(f"{preset_dir} is a file, not a preset directory")
    entries = set(os.listdir(preset_dir))
    if not entries:
        return
    config = os.path.join(preset_dir, "config.json")
    ours = entries <= PRESET_FILES and os.path.isfile(config)
    if not ours or presets.read_json(config).get("registered_name") != presets.BACKBONE_NAME:
        raise PresetError(
            f"{preset_dir} holds files that are not a keras_procrustes preset: "
            "choose a new or empty directory")


def _write(classifier, card, preset_dir):
    """Writes the preset in a temporary directory, then swaps it into place.

    A preset already there is renamed aside first and deleted only once the
    new one is in place, so a process killed in between leaves one of them.
    """
    parent = os.path.dirname(preset_dir)
    os.makedirs(parent, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=".preset-", dir=parent)
    old = None
    try:
        classifier.save_to_preset(partial)
        with open(os.path.join(partial, "README.md"), "w", encoding="utf-8") as file:
            file.write(card)
        if os.path.exists(preset_dir):
            old = tempfile.mkdtemp(prefix=".preset-old-", dir=parent)
            os.rename(preset_dir, os.path.join(old, "preset"))
        os.rename(partial, preset_dir)
    except BaseException:
        if old is not None and not os.path.exists(preset_dir):
            os.rename(os.path.join(old, "preset"), preset_dir)
        raise
    finally:
        for folder in (partial, old):
            if folder is not None and os.path.exists(folder):
                shutil.rmtree(folder)


def save_run_as_preset(run_dir, preset_dir, class_names=None):
    """Makes a run folder's best model a keras-hub preset directory.

    The preset holds `best.keras`'s weights in a
    `ProcrustesResNetImageClassifier`, the run's data statistics in its
    image converter (so that it takes raw pixels), the class names, and a
    model card (`README.md`: architecture, paper, data set, the figures of
    `metrics.json`, the command that trains it again, versions).
    `keras_hub.models.ImageClassifier.from_preset(preset_dir)` then
    predicts what `best.keras` predicts, after `import keras_procrustes.hub`.

    Args:
        run_dir: a run folder of `keras_procrustes.training.fit`.
        preset_dir: a new or empty directory, or a preset this package
            wrote (which is replaced).
        class_names: names of the classes in label order; `None`: the data
            set's (CIFAR-10, CIFAR-100, Fashion-MNIST), else none.

    Returns:
        `preset_dir`.

    Raises:
        PresetError: (a ValueError) in one line naming the file at fault (a
            missing or truncated file, a model of another family) or a
            `preset_dir` holding other files; nothing is written then.
    """
    manifest, metrics = _read_run(run_dir)
    options = manifest["options"]
    model = _load_best(run_dir)
    if class_names is None:
        class_names = CLASS_NAMES.get(options.get("dataset"))
    architecture = recorded_model(manifest)
    classifier = classifier_from_model(model, architecture, class_names,
                                       where=os.path.join(run_dir, run_names.BEST_MODEL))
    target = os.path.realpath(preset_dir)  # a link to a folder: the folder
    _check_destination(target)
    card = model_card.render(classifier, manifest, metrics)
    _write(classifier, card, target)
    return preset_dir


def recorded_model(manifest):
    """The model name a run's manifest records, in today's names, or `None`.

    Run folders written before the names changed meaning (no
    `"model_names"` mark) are read as the trainer reads them
    (`run.manifest.recorded_options`).
    """
    model = manifest["options"].get("model")
    if not isinstance(model, str):
        return None
    if manifest.get("model_names") != MODEL_NAMES:
        model = names.legacy_canonical_name(model)
    return model
