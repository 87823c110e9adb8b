"""What a Procrustes ResNet preset directory must hold, checked before loading.

A keras-hub preset directory holds `config.json` (the backbone),
`model.weights.h5`, and for a task `task.json`, `task.weights.h5`,
`preprocessor.json`. The package's checks name the file at fault in one
line; registry names (`procresnet166`) have no published weights yet, and
`from_preset` of one says what to do instead of failing to download.
"""

import json
import os

from keras_procrustes.checks import is_int
from keras_procrustes.models import presets as model_presets
from keras_procrustes.models import registry

BACKBONE_NAME = "keras_procrustes>ProcrustesResNetBackbone"
# The version of the preset format this package writes: a backbone's config
# (config.json, task.json) records it, and a newer one is refused.
FORMAT_VERSION = 1
"""The version of the preset format this package writes; a newer one is refused."""
JSON_FILES = ("config.json", "task.json", "preprocessor.json", "metadata.json")
WEIGHTS_FILES = ("model.weights.h5", "task.weights.h5")


class PresetError(ValueError):
    """A preset (or a run folder to make one of) can't be used; the message names the file."""


def check_format_version(format_version, where="the backbone's config"):
    """Refuses a preset format this version of the package can't read.

    Args:
        format_version: the recorded version.
        where: what recorded it, for the message (a file's path).

    Raises:
        PresetError: for a version that is not an int from 1 to
            `FORMAT_VERSION`, naming `where`.
    """
    if is_int(format_version) and 1 <= format_version <= FORMAT_VERSION:
        return
    raise PresetError(
        f"{where} is a keras_procrustes preset of format version "
        f"{format_version!r}; this keras_procrustes reads versions 1 to "
        f"{FORMAT_VERSION}: upgrade keras_procrustes (git pull in its clone, then pip install '.[hub]')."
    )


def published_handles():
    """Registry presets with published keras-hub weights: name -> handle.

    Returns:
        A dict; empty until weights are published (a preset's `weights`
        entry then holds its `"hub_handle"`, e.g. `"kaggle://..."`).
    """
    return {name: preset["weights"]["hub_handle"]
            for name, preset in model_presets.PRESETS.items()
            if (preset["weights"] or {}).get("hub_handle")}


def _is_registry_name(name):
    """Whether `models.get` knows `name`."""
    try:
        registry.canonical_name(name)
    except ValueError:
        return False
    return True


def _no_weights(name):
    """The refusal of a registry name without published weights."""
    return PresetError(
        f"No weights are published for {name!r}, so there is no preset to load. "
        f"Build it untrained with ProcrustesResNetBackbone({name!r}), or train a run "
        "(keras_procrustes.training.fit) and make it a preset with "
        "keras_procrustes.hub.save_run_as_preset(run_dir, preset_dir)."
    )


def read_json(path):
    """A JSON file's content, or a `PresetError` naming it.

    Args:
        path: the file.

    Returns:
        The parsed content.

    Raises:
        PresetError: for a missing, unreadable or truncated file.
    """
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise PresetError(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PresetError(f"{path} can't be read (truncated or damaged?): {error}") from None


def _check_weights_file(path):
    """Refuses a weights file that is not a whole HDF5 file."""
    import h5py  # a dependency of Keras

    try:
        with h5py.File(path, "r"):
            pass
    except OSError as error:
        raise PresetError(f"{path} can't be read (truncated or damaged?): {error}") from None


def check_preset_dir(preset_dir):
    """Checks a preset directory of a Procrustes ResNet, file by file.

    Args:
        preset_dir: a local preset directory.

    Raises:
        PresetError: naming the first file that is missing, truncated, of
            another model family, or of a newer format version.
    """
    config_path = os.path.join(preset_dir, "config.json")
    config = read_json(config_path)
    registered = config.get("registered_name") if isinstance(config, dict) else None
    if registered != BACKBONE_NAME:
        raise PresetError(
            f"{config_path} is a preset of {registered!r}, not of a Procrustes "
            "ResNet: load it with keras_hub.models.ImageClassifier.from_preset.")
    check_format_version(config.get("config", {}).get("format_version"), config_path)
    for name in JSON_FILES[1:]:
        path = os.path.join(preset_dir, name)
        if os.path.exists(path):
            read_json(path)
    if not os.path.exists(os.path.join(preset_dir, WEIGHTS_FILES[0])):
        raise PresetError(f"{os.path.join(preset_dir, WEIGHTS_FILES[0])} is missing")
    for name in WEIGHTS_FILES:
        path = os.path.join(preset_dir, name)
        if os.path.exists(path):
            _check_weights_file(path)


def check_preset(preset):
    """Checks what `from_preset` of a Procrustes ResNet class was given.

    A local directory is checked file by file; a registry name without
    published weights is refused; a handle (`kaggle://`, `hf://`) or a
    published name is left to keras-hub.

    Args:
        preset: what `from_preset` received.

    Raises:
        PresetError: (a ValueError) in one line naming the file or the name.
    """
    if not isinstance(preset, str) or "://" in preset or preset in published_handles():
        return
    if os.path.isdir(preset):
        check_preset_dir(preset)
    elif _is_registry_name(preset):
        raise _no_weights(preset)


class CheckedFromPreset:
    """keras-hub's `from_preset`, refusing first what keras-hub would fail on unclearly.

    Put first among the bases of a keras-hub model class.
    """

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """keras-hub's `from_preset`, with clear refusals.

        Args:
            preset: a preset directory, or a Kaggle / Hugging Face handle.
            load_weights: load the weights (else random ones).
            **kwargs: passed to keras-hub's `from_preset`.

        Returns:
            An instance of the class it is called on.

        Raises:
            PresetError: (a ValueError) for a registry name without
                published weights, or a preset directory that can't be used,
                naming the file.
        """
        check_preset(preset)
        return super().from_preset(preset, load_weights=load_weights, **kwargs)
