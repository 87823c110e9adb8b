"""Model builders, keras.applications-style, and a registry of named variants.

Example:
>>> from keras_procrustes import models
>>> model = models.resnet164()            # ProcResNet-166
>>> baseline = models.get("resnet164")    # He et al.'s ResNet-164
>>> models.list_models()[:3]
['procresnet1003', 'procresnet166', 'procresnet274']
"""

import functools
import re

from keras_procrustes.models.convert import convert_weights
from keras_procrustes.models.resnet import SCAN_MIN_BLOCKS
from keras_procrustes.models.resnet import ProcrustesResNet
from keras_procrustes.models.resnet import blocks_per_stage
from keras_procrustes.models.resnet import resnet
from keras_procrustes.models.resnet import resnet56
from keras_procrustes.models.resnet import resnet164
from keras_procrustes.models.resnet import resnet1001


def _registry():
    """Name -> builder, for every named depth in both forms."""
    entries = {
        "resnet56": functools.partial(resnet56, procrustes=False),
        "procresnet58": functools.partial(resnet56, procrustes=True),
    }
    for depth in (164, 272, 632, 1001):
        entries[f"resnet{depth}"] = functools.partial(
            resnet, depth, procrustes=False
        )
        entries[f"procresnet{depth + 2}"] = functools.partial(
            resnet, depth, procrustes=True
        )
    return entries


MODELS = _registry()


def list_models():
    """Names accepted by `get`, sorted.

    Returns:
        A list of strings, e.g. `"resnet164"`, `"procresnet166"`.
    """
    return sorted(MODELS)


def get_builder(name):
    """The builder of a model name, without building it.

    Besides the registered names, `resnet{9n+2}` and `procresnet{9n+4}` give
    a bottleneck net of any depth (e.g. `procresnet13`, one block a stage).

    Args:
        name: one of `list_models()`, or a bottleneck name as above.

    Returns:
        A function of `ProcrustesResNet`'s keyword arguments that returns
        the model. A ValueError names an unknown `name`.
    """
    if name in MODELS:
        return MODELS[name]
    match = re.fullmatch(r"(proc)?resnet(\d+)", str(name))
    if match:
        procrustes, depth = bool(match.group(1)), int(match.group(2))
        offset = 4 if procrustes else 2
        if depth > offset and (depth - offset) % 9 == 0:
            return functools.partial(resnet, depth, procrustes=procrustes, name=name)
    raise ValueError(
        f"Unknown model name={name!r}. Known: {', '.join(list_models())}, "
        "or resnet{9n+2} / procresnet{9n+4} for a bottleneck net of any depth."
    )


def get(name, **kwargs):
    """Builds a model by name.

    Args:
        name: one of `list_models()`, or `resnet{9n+2}` / `procresnet{9n+4}`
            for a bottleneck net of any depth (see `get_builder`).
        **kwargs: arguments of `ProcrustesResNet` (`classes`, ...).

    Returns:
        An uncompiled `keras.Model`.
    """
    return get_builder(name)(**kwargs)


__all__ = [
    "ProcrustesResNet",
    "SCAN_MIN_BLOCKS",
    "blocks_per_stage",
    "convert_weights",
    "get",
    "get_builder",
    "list_models",
    "resnet",
    "resnet56",
    "resnet164",
    "resnet1001",
]
