"""Old layer names, kept for one release: they warn, and files saved with them still load.

| old name                  | new name                    |
|---------------------------|-----------------------------|
| `ProjectionResidualBlock` | `ConvShortcutResidualBlock` |

"Projection" now means only the Procrustes projection; He et al.'s strided
1x1 shortcut is a `conv_shortcut`, as keras and keras-hub call it.

Keras stores a layer's weights under its class name (`layers/
projection_residual_block_1/...`), so files saved before the rename hold
the old names. A `.keras` file loads with `keras.models.load_model` as it
is (its layers come back as the deprecated class, which warns); a weights
file goes through `upgrade_weights_file`, which renames its groups. Layers
named by Keras after the old class (`projection_residual_block_1`) are
matched by `models.convert_weights` under the new class's name
(`current_layer_name`).
"""

import os
import re
import shutil
import warnings
import zipfile

import keras

from keras_procrustes.layers.residual_block import ConvShortcutResidualBlock

# Old name -> the layer class that replaces it.
RENAMED_LAYERS = {"ProjectionResidualBlock": ConvShortcutResidualBlock}


def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# Weight-file group of an old class (`projection_residual_block_2`) -> its
# new name's prefix.
_OLD_GROUP = re.compile(
    "^(" + "|".join(_snake(old) for old in RENAMED_LAYERS) + r")(_[0-9]+)?$"
)
_NEW_GROUP = {_snake(old): _snake(new.__name__) for old, new in RENAMED_LAYERS.items()}


def renamed_layer_warning(old_name):
    """Warns (`FutureWarning`) that a layer name is deprecated.

    Args:
        old_name: a key of `RENAMED_LAYERS`.
    """
    new_name = RENAMED_LAYERS[old_name].__name__
    warnings.warn(
        f"`{old_name}` is deprecated and will be removed in the next release: "
        f"use `keras_procrustes.layers.{new_name}` (the same layer). A `.keras` "
        f"file that names {old_name} loads until then; to move its weights to "
        "a model built now, use `models.convert_weights(loaded, model)`.",
        FutureWarning,
        stacklevel=3,
    )


@keras.saving.register_keras_serializable(package="keras_procrustes")
class ProjectionResidualBlock(ConvShortcutResidualBlock):
    """Deprecated name of `ConvShortcutResidualBlock`; it warns.

    Registered under its old name, so that `.keras` files saved with it
    load (with their weights, stored under this class's name).
    """

    def __init__(self, *args, **kwargs):
        renamed_layer_warning("ProjectionResidualBlock")
        super().__init__(*args, **kwargs)


def _old_groups(store):
    """The names of the groups of an open HDF5 file that carry old class names."""
    found = []

    def collect(name):
        if _OLD_GROUP.match(name.split("/")[-1]):
            found.append(name)

    store.visit(collect)
    return found


def _rename_groups(h5_path):
    """Renames the old classes' groups of an HDF5 weights file, in place."""
    import h5py  # a Keras dependency; needed only here

    with h5py.File(h5_path, "r+") as store:
        for name in sorted(_old_groups(store), key=lambda n: -n.count("/")):
            parent, _, leaf = name.rpartition("/")
            match = _OLD_GROUP.match(leaf)
            new_leaf = _NEW_GROUP[match.group(1)] + (match.group(2) or "")
            store.move(name, f"{parent}/{new_leaf}" if parent else new_leaf)


def upgrade_weights_file(path, folder):
    """A copy of a weights file with old layer names renamed, if it has any.

    Args:
        path: a `.weights.h5` file, or a `.keras` file (its weights).
        folder: where to write the copy.

    Returns:
        The path of a `.weights.h5` copy whose groups carry the new class
        names, or `None` when the file holds no old names.
    """
    import h5py  # a Keras dependency; needed only here

    copy = os.path.join(folder, "upgraded.weights.h5")
    if str(path).endswith(".keras"):
        with zipfile.ZipFile(path) as archive, open(copy, "wb") as out:
            with archive.open("model.weights.h5") as weights:
                shutil.copyfileobj(weights, out)
    else:
        with h5py.File(path, "r") as store:
            if not _old_groups(store):
                return None
        shutil.copyfile(path, copy)
    with h5py.File(copy, "r") as store:
        if not _old_groups(store):
            return None
    _rename_groups(copy)
    return copy


def current_layer_name(layer):
    """The name `layer` has in a model built now.

    A layer of a deprecated class whose name Keras made up from the old
    class (`projection_residual_block_2`) gets the new class's
    (`conv_shortcut_residual_block_2`); any other name is kept.

    Args:
        layer: a Keras layer.

    Returns:
        The layer's name, with an old class's prefix replaced.
    """
    match = _OLD_GROUP.match(layer.name)
    if match is None or type(layer).__name__ not in RENAMED_LAYERS:
        return layer.name
    return _NEW_GROUP[match.group(1)] + (match.group(2) or "")


def _all_layers(layer):
    yield layer
    for inner in getattr(layer, "layers", ()):
        yield from _all_layers(inner)


def holds_renamed_layers(model):
    """Whether `model` has a layer of a deprecated class (saved under its name)."""
    return any(type(layer).__name__ in RENAMED_LAYERS for layer in _all_layers(model))
