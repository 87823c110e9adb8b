"""The registry: model names to builders, read from the preset table.

`get(name)` builds what a name means (see `names`): a preset
(`procresnet166`, `resnet164_baseline`), a family's builder name
(`resnet164`, the same as calling `models.resnet164`), or an architecture of
any depth with its block type (`procresnet13_bottleneck`).
"""

import fnmatch
import functools
import warnings

from keras_procrustes.models import names
from keras_procrustes.models.names import canonical_name  # noqa: F401  (models.canonical_name)
from keras_procrustes.models.presets import PRESETS
from keras_procrustes.models.procrustes_resnet_2018 import procresnet_2018
from keras_procrustes.models.resnet import FAMILY_BUILDERS
from keras_procrustes.models.resnet import resnet
from keras_procrustes.models.weights import presets_with_weights


def _patterns(patterns, arg):
    """`patterns` as a list of fnmatch patterns.

    Raises:
        TypeError: for something that is not a pattern or a list of them.
    """
    if isinstance(patterns, str):
        return [patterns] if patterns else []
    if patterns is None:
        return []
    if isinstance(patterns, (list, tuple, set, frozenset)) and all(
        isinstance(p, str) for p in patterns
    ):
        return list(patterns)
    raise TypeError(
        f"`{arg}` must be an fnmatch pattern (str) or a list of them. "
        f"Received {arg}={patterns!r}"
    )


def list_models(filter="", exclude_filters="", pretrained=False):
    """The preset names, sorted, like `timm.list_models`.

    Args:
        filter: an fnmatch pattern (`"procresnet*"`, `"*_baseline"`) or a
            list of them; a name is listed when it matches any. Empty: all.
        exclude_filters: patterns of names to leave out.
        pretrained: list only the presets with published weights.

    Returns:
        A list of preset names. Each is one architecture; `get` also takes
        the family builders' names (`resnet164`) and any depth with its
        block type (`procresnet13_bottleneck`).

    Raises:
        TypeError: for a filter that is not a pattern or a list of them.

    Example:
    >>> list_models("*_baseline")[:2]
    ['resnet1001_baseline', 'resnet110_baseline']
    """
    found = presets_with_weights() if pretrained else sorted(PRESETS)
    include = _patterns(filter, "filter")
    if include:
        found = [n for n in found if any(fnmatch.fnmatchcase(n, p) for p in include)]
    exclude = _patterns(exclude_filters, "exclude_filters")
    return [n for n in found if not any(fnmatch.fnmatchcase(n, p) for p in exclude)]


def _unknown(error):
    """`error` again, listing the names that exist."""
    return names.UnknownModelName(
        error.name, error.reason,
        f"Presets: {', '.join(PRESETS)}; builders: "
        f"{', '.join(FAMILY_BUILDERS)}; any other depth with its "
        "block type: procresnet{D+2}_bottleneck, resnet{D}_basic_baseline, ...",
    )


def resolve(name, stacklevel=2):
    """The `ModelName` of a name, warning where its meaning changed.

    Args:
        name: a model name.
        stacklevel: where the `ModelNameWarning` points, as in
            `warnings.warn` called by `resolve` (2: `resolve`'s caller).

    Returns:
        A `names.ModelName`.

    Raises:
        UnknownModelName: (a ValueError) naming an unknown name, listing
            what exists.
    """
    try:
        model_name = names.parse(name)
    except names.UnknownModelName as error:
        raise _unknown(error) from None
    note = names.meaning_change(name, model_name)
    if note:
        warnings.warn(note, names.ModelNameWarning, stacklevel=stacklevel)
    return model_name


def _check_fixed(name, model_name, kwargs):
    """Refuses a `procrustes` argument that contradicts a fixed-form name.

    Raises:
        ValueError: naming the name and the `procrustes` received.
    """
    is_2020 = model_name.form == "2020"
    procrustes = kwargs.pop("procrustes", is_2020)
    if bool(procrustes) != is_2020:
        other = names.format_name(
            model_name.depth, model_name.block_type, "baseline" if is_2020 else "2020")
        raise ValueError(
            f"Model name {name!r} is {names.describe(model_name)}. Received "
            f"procrustes={procrustes!r}: build {other!r} for the other form."
        )


def _build_preset(name, model_name, **kwargs):
    """A preset: its builder with its arguments (from the preset table)."""
    _check_fixed(name, model_name, kwargs)
    preset = PRESETS[name]
    builder = FAMILY_BUILDERS[preset["builder"]]
    return builder(**preset["arguments"], **kwargs)


def _build_any_depth(name, model_name, **kwargs):
    """A depth with its block type: `resnet(depth, block_type, procrustes)`."""
    _check_fixed(name, model_name, kwargs)
    return resnet(model_name.depth, model_name.block_type, model_name.form == "2020",
                  **kwargs)


def _builder(name):
    """`get_builder`'s body; its warning points at the caller of `get`."""
    model_name = resolve(name, stacklevel=4)
    if model_name.form == "2018":
        return functools.partial(procresnet_2018, model_name.depth, model_name.block_type)
    if name in PRESETS:
        return functools.partial(_build_preset, name, model_name)
    if model_name.form is None:
        return FAMILY_BUILDERS[name]
    return functools.partial(_build_any_depth, name, model_name)


def get_builder(name):
    """The builder of a model name, without building it.

    Args:
        name: a preset (`list_models()`), a family's builder name
            (`"resnet164"`), or a depth with its block type
            (`"procresnet13_bottleneck"`, `"resnet11_bottleneck_baseline"`),
            or the paper's 2018 form (`"procresnet164_2018"`).

    Returns:
        A function of `ProcrustesResNet`'s keyword arguments that returns
        the model. A name that meant another architecture under the old
        names (`names.RENAMED_MODELS`) warns (`ModelNameWarning`).

    Raises:
        UnknownModelName: (a ValueError) naming an unknown `name`.
    """
    return _builder(name)


def get(name, **kwargs):
    """Builds a model by name.

    A builder and its name build the same net: `get("resnet164")` is
    `resnet164()`, ProcrustesResNet-166, and so is `get("procresnet166")`.

    Args:
        name: see `get_builder`.
        **kwargs: arguments of the builder (`classes`, `input_shape`, ...).

    Returns:
        An uncompiled `keras.Model`, named after its architecture.

    Raises:
        UnknownModelName: (a ValueError) naming an unknown `name`.
        ValueError: for a `procrustes` that contradicts the name's form, or
            a bad builder argument.
    """
    return _builder(name)(**kwargs)
