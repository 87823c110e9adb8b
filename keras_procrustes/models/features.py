"""Per-stage feature maps of a built ResNet, for use as a backbone."""

import re

_STAGE_LAYER = re.compile(r"stage([1-9][0-9]*)_(?:block[0-9]+|stack)")


def pyramid_outputs(model):
    """The output of each stage, keyed as keras-hub's backbones key theirs.

    A stage's output is its last residual block's (before the next
    transition, and before the final batch norm). The key is `P{level}`,
    `level = log2(stride)`: `P0` for stage 1 at the input's resolution,
    `P1` and `P2` for the stages at 1/2 and 1/4 of it.

    Args:
        model: a model built by this package's builders (its stages are the
            layers named `stage{s}_block{b}` and `stage{s}_stack`), also
            after `.keras` loading.

    Returns:
        A dict, level name -> Keras tensor, in stage order; e.g.
        `keras.Model(model.inputs, pyramid_outputs(model))` is a feature
        extractor.

    Raises:
        ValueError: for a model without stage layers.

    Example:
    >>> model = models.resnet56(include_top=False)
    >>> features = keras.Model(model.inputs, model.pyramid_outputs)
    """
    last = {}
    for layer in model.layers:
        match = _STAGE_LAYER.fullmatch(layer.name)
        if match:
            last[int(match.group(1))] = layer
    if not last:
        raise ValueError(
            f"Model '{model.name}' has no stage layers (named stage{{s}}_block{{b}} "
            "or stage{s}_stack): it was not built by keras_procrustes.models."
        )
    return {f"P{stage - 1}": last[stage].output for stage in sorted(last)}
