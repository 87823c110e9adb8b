"""What `weights=` names: a weights file, or a preset's published weights."""

import os

import keras

from keras_procrustes.models.presets import PRESETS


def presets_with_weights():
    """The names of the presets that have published weights, sorted."""
    return sorted(name for name, preset in PRESETS.items() if preset["weights"])


def _available():
    return ", ".join(presets_with_weights()) or "none yet"


def weights_file(weights, model_name=None):
    """The file to load for `weights=`.

    Args:
        weights: `None`, the path of a weights file (`.weights.h5`), or a
            preset name whose published weights to fetch.
        model_name: the canonical name of the model being built, when
            known; a preset's weights must be that model's.

    Returns:
        A path, or `None`. A ValueError names a `weights` that is neither a
        file nor a preset, a preset without weights (listing the presets
        that have some), or another model's preset.
    """
    if weights is None:
        return None
    if isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights):
        return os.fspath(weights)
    if not isinstance(weights, str) or weights not in PRESETS:
        raise ValueError(
            "`weights` must be None, the path of a weights file or a preset "
            f"name. Received weights={weights!r}: no such file, and not a "
            f"preset (presets: {', '.join(PRESETS)}; with weights: {_available()})."
        )
    published = PRESETS[weights]["weights"]
    if not published:
        raise ValueError(
            f"No weights are published for the preset weights={weights!r}. "
            f"Presets with weights: {_available()}. Pass weights=None or the "
            "path of a weights file."
        )
    if model_name is not None and model_name != weights:
        raise ValueError(
            f"weights={weights!r} are that preset's; this model is "
            f"{model_name!r}."
        )
    return keras.utils.get_file(
        fname=f"{weights}.weights.h5",
        origin=published["origin"],
        file_hash=published["file_hash"],
        cache_subdir="keras_procrustes",
    )
