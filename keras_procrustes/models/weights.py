"""What `weights=` names: a weights file, or a preset's published weights."""

import os
import tempfile
import zipfile

import keras

from keras_procrustes.layers.deprecated import holds_renamed_layers
from keras_procrustes.layers.deprecated import upgrade_weights_file
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
        A path, or `None`.

    Raises:
        ValueError: naming a `weights` that is neither a file nor a preset,
            a preset without weights (listing the presets that have some),
            or another model's preset.
    """
    if weights is None:
        return None
    if isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights):
        return os.fspath(weights)
    if isinstance(weights, (str, os.PathLike)) and os.path.isdir(weights):
        raise ValueError(
            "`weights` must be None, the path of a weights file or a preset "
            f"name. Received weights={weights!r}: a folder, not a file."
        )
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


_SIGNATURES = {
    ".weights.h5": (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    ".keras": (b"PK\x03\x04", "a zip archive"),
}


def _read_dataset(_, item):
    """Reads an HDF5 dataset whole (`visititems` callback); returns None."""
    if hasattr(item, "dtype"):
        item[()]  # a damaged or missing chunk raises here


def damage_of(path):
    """Why a weights file can't be read whole, or `None` when it can.

    A `.keras` file is a zip archive whose members carry checksums
    (`ZipFile.testzip`); a `.weights.h5` file is read dataset by dataset.

    Args:
        path: a `.keras` or `.weights.h5` file.

    Returns:
        The reader's message, or `None`.
    """
    import h5py  # a Keras dependency; needed only here

    try:
        if path.endswith(".keras"):
            with zipfile.ZipFile(path) as archive:
                broken = archive.testzip()
            return None if broken is None else f"the member {broken} fails its checksum"
        with h5py.File(path, "r") as store:
            store.visititems(_read_dataset)
    except (OSError, EOFError, KeyError, RuntimeError, zipfile.BadZipFile) as error:
        lines = str(error).strip().splitlines()
        return lines[0] if lines else type(error).__name__
    return None


def load_weights_file(model, path):
    """`model.load_weights(path)`, with a ValueError that names the file.

    A file saved before a layer was renamed (`layers.deprecated`) holds its
    weights under the old class name; they are read from a renamed copy.

    Args:
        model: a built model.
        path: a `.weights.h5` or `.keras` file.

    Raises:
        ValueError: for a file that is not a weights file (a wrong suffix,
            or not HDF5 / zip inside), one that is damaged or truncated, or
            whose weights do not fit the model (another architecture or
            class count), naming `path` and the reason, chained to the
            loader's error.
    """
    name = os.fspath(path)
    for suffix, (signature, kind) in _SIGNATURES.items():
        if name.endswith(suffix):
            with open(name, "rb") as f:
                head = f.read(len(signature))
            if head != signature:
                raise ValueError(
                    f"weights={name!r} is not a weights file: a `{suffix}` "
                    f"file is {kind}, and this one is not."
                )
            break
    else:
        raise ValueError(
            f"weights={name!r} is not a weights file: its name must end in "
            "`.weights.h5` (`model.save_weights`) or `.keras` (`model.save`)."
        )
    damage = damage_of(name)
    if damage is not None:
        raise ValueError(
            f"weights={name!r} can't be read: the file is damaged or truncated "
            f"({damage}). Save or download it again."
        )
    try:
        with tempfile.TemporaryDirectory() as folder:
            upgraded = None
            if not holds_renamed_layers(model):
                upgraded = upgrade_weights_file(name, folder)
            model.load_weights(upgraded or name)
    except Exception as error:
        first = str(error).strip().splitlines()
        raise ValueError(
            f"weights={name!r} do not fit this model ({model.name!r}, "
            f"{model.count_params()} parameters): they were made for another "
            "architecture or class count (`classes`, `include_top`, "
            f"`block_type`, depth). Loader: {first[0] if first else type(error).__name__}"
        ) from error
