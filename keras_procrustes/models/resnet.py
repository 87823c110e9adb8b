"""The ResNet family for CIFAR: `resnet(depth)` and one builder per depth of the presets.

`resnet(depth, block_type)` builds the CIFAR net of He et al.'s depth with
`ProcrustesResNet`; the family builders (`resnet20` ... `resnet1001`, one
for each depth of the preset table) are thin wrappers around it, and their
docstrings are generated from one shared text and the preset table.
"""

import textwrap
import warnings

from keras_procrustes.checks import LAYERS_PER_BLOCK
from keras_procrustes.checks import STAGE_WIDTHS
from keras_procrustes.checks import STAGES
from keras_procrustes.checks import check_block_type
from keras_procrustes.checks import is_int
from keras_procrustes.models import names
from keras_procrustes.models.presets import FAMILIES
from keras_procrustes.models.presets import PRESETS
from keras_procrustes.models.procrustes_resnet import ProcrustesResNet
from keras_procrustes.models.weights import weights_file


def blocks_per_stage(depth, block_type="bottleneck"):
    """Blocks per stage `n` of He et al.'s depth.

    Bottleneck nets have `9n + 2` layers (164, 272, 632, 1001), basic-block
    nets `6n + 2` (20, 32, 44, 56, 110); their Procrustes forms have two
    more (the transitions), but `depth` is always the baseline's count.

    Args:
        depth: the layer count.
        block_type: `"bottleneck"` or `"basic"`.

    Returns:
        `n`, a positive int.

    Raises:
        ValueError: for an unknown block type, or a depth that is not
            `9n + 2` (bottleneck) or `6n + 2` (basic); a ProcrustesResNet's
            count (two more) is named as such.
    """
    check_block_type(block_type)
    per_stage = STAGES * LAYERS_PER_BLOCK[block_type]
    if names.is_valid_depth(depth, block_type):
        return (depth - 2) // per_stage
    hint = ""
    if is_int(depth) and names.is_valid_depth(depth - 2, block_type):
        hint = (f" It is ProcrustesResNet-{depth}'s count: depth counts the "
                f"baseline's layers, so pass depth={depth - 2}.")
    raise ValueError(
        f"A {block_type} ResNet has depth {per_stage}n+2 for a positive int "
        f"n. Received depth={depth}.{hint}"
    )


def _block_type(depth, block_type):
    """`names.family_block_type`, warning where `resnet(depth)`'s meaning changed.

    `models.resnet(depth)` used to default to bottleneck blocks; for 20, 56
    and 110, now basic-block nets, it warns (`ModelNameWarning`).
    """
    given = block_type
    block_type = names.family_block_type(depth, block_type)
    if given is None and block_type == "basic" and names.is_valid_depth(depth, "bottleneck"):
        warnings.warn(
            f"models.resnet({depth}) builds basic blocks now, He et al.'s "
            f"ResNet-{depth}; it built a bottleneck net before: pass "
            "block_type='bottleneck' for that.",
            names.ModelNameWarning,
            stacklevel=3,
        )
    return block_type


DOC = """

    Reference: Zaeemzadeh, Rahnavard & Shah, "Norm-Preservation: Why
    Residual Networks Can Become Extremely Deep?", TPAMI 2020
    (arXiv:1805.07477); baseline from He et al., "Identity Mappings in Deep
    Residual Networks", ECCV 2016 (arXiv:1603.05027).

    Args:
        procrustes: `True` builds the Procrustes form (identity blocks only,
            projected stem and transitions), `False` He et al.'s baseline.
        include_top: whether to add the classifier.
        weights: `None`, the path of a weights file, or a preset name.
        input_tensor: optional Keras tensor to use as the input (its
            shape is then the model's).
        input_shape: `(height, width, channels)`, channels last, default
            `(32, 32, 3)`; images of another channel count are refused.
        pooling: `None`, `"avg"` or `"max"` when `include_top=False`.
        classes: number of classes, default 10.
        classifier_activation: activation of the classifier.
        include_preprocessing: the model takes raw pixels in [0, 255] and
            normalises them (default `True`; see `ProcrustesResNet`).
        dtype: the layers' dtype policy, default the global one.
        name: the model's name; default its preset name.
        **kwargs: other options of `ProcrustesResNet`
            (`preprocessing_mean`, `projection_probability`,
            `projection_engine`, `remat`, `scan`, ...).

    Returns:
        An uncompiled `keras.Model`, with `pyramid_outputs`.

    Raises:
        ValueError: naming a bad argument: a depth that is not `9n+2` or
            `6n+2` for its block type, or one of `ProcrustesResNet`'s.

    Example:
    >>> model = resnet164()
    >>> model.compile("sgd", "sparse_categorical_crossentropy")
"""


def resnet(
    depth,
    block_type=None,
    procrustes=True,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=(32, 32, 3),
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name=None,
    **kwargs,
):
    """A CIFAR ResNet of He et al.'s depth `depth`: `9n+2` bottleneck, `6n+2` basic.

    `depth` is the baseline's layer count; the Procrustes form has two more
    (ProcrustesResNet-166 is `resnet(164)`). He et al.'s depths fix the
    block type (20, 32, 44, 56, 110 basic; 164, 272, 632, 1001 bottleneck);
    any other depth needs `block_type`. Widths are 16/32/64 (inner) over three stages
    of `n` blocks. The default name is the architecture's
    (`models.canonical_name`: `procresnet166`, `resnet164_baseline`,
    `procresnet13_bottleneck`).
    """
    block_type = _block_type(depth, block_type)
    n = blocks_per_stage(depth, block_type)
    canonical = names.format_name(depth, block_type, "2020" if procrustes else "baseline")
    return ProcrustesResNet(
        [n] * STAGES,
        list(STAGE_WIDTHS),
        block_type=block_type,
        procrustes=procrustes,
        include_top=include_top,
        weights=weights_file(weights, canonical),
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=canonical if name is None else name,
        **kwargs,
    )


def _family(depth, procrustes, kwargs):
    """The family builders' body: `resnet(depth)` with He et al.'s block."""
    return resnet(depth, FAMILIES[depth], procrustes, **kwargs)


def resnet20(procrustes=True, **kwargs):
    """ResNet-20 / ProcrustesResNet-22: basic blocks, 3 a stage."""
    return _family(20, procrustes, kwargs)


def resnet32(procrustes=True, **kwargs):
    """ResNet-32 / ProcrustesResNet-34: basic blocks, 5 a stage."""
    return _family(32, procrustes, kwargs)


def resnet44(procrustes=True, **kwargs):
    """ResNet-44 / ProcrustesResNet-46: basic blocks, 7 a stage."""
    return _family(44, procrustes, kwargs)


def resnet56(procrustes=True, **kwargs):
    """ResNet-56 / ProcrustesResNet-58: basic blocks, 9 a stage.

    The Procrustes form has a projected 3x3 stem 3->16 and projected 1x1
    transitions 16->32, 32->64 (58 weighted layers); the baseline has 56.
    """
    return _family(56, procrustes, kwargs)


def resnet110(procrustes=True, **kwargs):
    """ResNet-110 / ProcrustesResNet-112: basic blocks, 18 a stage."""
    return _family(110, procrustes, kwargs)


def resnet164(procrustes=True, **kwargs):
    """ResNet-164 / ProcrustesResNet-166: bottleneck blocks, 18 a stage.

    The Procrustes form counts 166 layers: stem, 162 in 54 blocks, 2
    transitions, classifier.
    """
    return _family(164, procrustes, kwargs)


def resnet272(procrustes=True, **kwargs):
    """ResNet-272 / ProcrustesResNet-274: bottleneck blocks, 30 a stage."""
    return _family(272, procrustes, kwargs)


def resnet632(procrustes=True, **kwargs):
    """ResNet-632 / ProcrustesResNet-634: bottleneck blocks, 70 a stage."""
    return _family(632, procrustes, kwargs)


def resnet1001(procrustes=True, **kwargs):
    """ResNet-1001 / ProcrustesResNet-1003: bottleneck blocks, 111 a stage."""
    return _family(1001, procrustes, kwargs)


FAMILY_BUILDERS = {
    builder.__name__: builder
    for builder in (resnet20, resnet32, resnet44, resnet56, resnet110,
                    resnet164, resnet272, resnet632, resnet1001)
}


def _presets_line(builder_name):
    """`Presets: procresnet166 (default, 1,715,018 parameters ...` of a builder."""
    entries = [
        f"`{name}` ({'default' if preset['arguments']['procrustes'] else 'procrustes=False'}"
        f", {preset['parameters'][10]:,} parameters with 10 classes)"
        for name, preset in PRESETS.items()
        if preset["builder"] == builder_name
    ]
    text = "Presets: " + "; ".join(entries) + "."
    return "\n\n" + textwrap.fill(text, 76, initial_indent="    ", subsequent_indent="    ")


if __doc__ is not None:
    resnet.__doc__ += DOC
    for _name, _builder in FAMILY_BUILDERS.items():
        _builder.__doc__ = _builder.__doc__.rstrip() + _presets_line(_name) + DOC
