"""Procrustes ResNets and He et al.'s pre-activation baselines, for CIFAR.

One generic constructor, `ProcrustesResNet`, takes the per-stage block counts
and widths; the named builders (`resnet56`, `resnet164`, `resnet1001`, and
`resnet(depth)` for the other depths) are thin wrappers around it.
"""

import os

import keras
from keras import layers

from keras_procrustes.layers import IdentityResidualBlock
from keras_procrustes.layers import IdentityResidualStack
from keras_procrustes.layers import NormPreservingTransition
from keras_procrustes.layers import ProjectionResidualBlock
from keras_procrustes.layers.residual_block import BLOCK_TYPES

# Conv layers per block, by block type: depth = LAYERS * blocks + 2 (stem
# and classifier) for the baseline, + 2 more (the transitions) for the
# Procrustes form.
LAYERS_PER_BLOCK = {"bottleneck": 3, "basic": 2}

# With `scan=None`, a stage runs as one scan from this many identity blocks
# on (benchmarks/depth.py: below it, unrolled blocks trace quickly anyway).
SCAN_MIN_BLOCKS = 12


def _check_arguments(
    stackwise_num_blocks,
    stackwise_num_filters,
    block_type,
    weights,
    input_shape,
    include_top,
    pooling,
    classes,
    procrustes,
):
    """Raises a ValueError naming the first bad argument."""
    if block_type not in BLOCK_TYPES:
        raise ValueError(
            f"`block_type` must be one of {BLOCK_TYPES}. "
            f"Received block_type={block_type!r}"
        )
    if len(stackwise_num_blocks) != len(stackwise_num_filters) or not all(
        isinstance(n, int) and n > 0
        for n in list(stackwise_num_blocks) + list(stackwise_num_filters)
    ):
        raise ValueError(
            "`stackwise_num_blocks` and `stackwise_num_filters` must be "
            "lists of positive ints of the same length. Received "
            f"stackwise_num_blocks={stackwise_num_blocks}, "
            f"stackwise_num_filters={stackwise_num_filters}"
        )
    if not (weights is None or os.path.exists(weights)):
        raise ValueError(
            "`weights` must be None (random initialisation) or the path to "
            f"a weights file. Received weights={weights}"
        )
    if include_top and (not isinstance(classes, int) or classes < 1):
        raise ValueError(
            f"`classes` must be a positive int. Received classes={classes}"
        )
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            "`pooling` must be None, 'avg' or 'max'. "
            f"Received pooling={pooling!r}"
        )
    if input_shape is None or len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must be (height, width, channels). "
            f"Received input_shape={input_shape}"
        )
    height, width, _ = input_shape
    if procrustes and (height is None or width is None):
        raise ValueError(
            "A Procrustes ResNet needs a fixed input height and width: its "
            "projections run at the layers' input size. "
            f"Received input_shape={tuple(input_shape)}"
        )
    min_size = 2 ** len(stackwise_num_blocks)
    for size in (height, width):
        if size is not None and size < min_size:
            raise ValueError(
                f"The input is too small for the {len(stackwise_num_blocks) - 1}"
                f" stride-2 stages: height and width must be at least "
                f"{min_size}. Received input_shape={tuple(input_shape)}"
            )


def _normalization(input_shape, mean, std):
    """The input layer `(x - mean) / std` of `include_preprocessing`."""
    channels = input_shape[-1]
    for name, values in (("preprocessing_mean", mean), ("preprocessing_std", std)):
        if values is None or len(values) != channels:
            raise ValueError(
                f"`include_preprocessing=True` needs `{name}`: {channels} "
                f"per-channel values of the raw pixels. Received {name}={values}"
            )
    if min(std) <= 0:
        raise ValueError(
            f"`preprocessing_std` must be positive. Received preprocessing_std={std}"
        )
    return layers.Normalization(
        mean=[float(m) for m in mean],
        variance=[float(s) ** 2 for s in std],
        name="normalization",
    )


def _stem(x, filters, procrustes, projection_kwargs):
    """The 3x3 stem conv: projected (no BN/ReLU after) or plain."""
    if procrustes:
        return NormPreservingTransition(
            filters, 3, strides=1, name="stem_conv", **projection_kwargs
        )(x)
    return layers.Conv2D(
        filters,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name="stem_conv",
    )(x)


def _transition(x, filters, index, projection_kwargs):
    """A standalone 1x1 stride-2 transition, projected or plain."""
    name = f"transition{index}"
    if projection_kwargs is not None:
        return NormPreservingTransition(filters, name=name, **projection_kwargs)(x)
    return layers.Conv2D(
        filters,
        1,
        strides=2,
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )(x)


def _stage(x, stage, num_blocks, filters, block_type, procrustes, remat, scan):
    """The residual blocks of one stage, named `stage{s}_block{b}`.

    The first block of a baseline stage has a projection shortcut. The
    identity blocks are unrolled, or with `scan` one `IdentityResidualStack`
    named `stage{s}_stack` whose blocks keep those names.
    """
    out_channels = filters * (4 if block_type == "bottleneck" else 1)
    first_identity = 1
    if not procrustes and (stage > 1 or x.shape[-1] != out_channels):
        x = ProjectionResidualBlock(
            filters,
            strides=1 if stage == 1 else 2,
            block_type=block_type,
            remat=remat,
            name=f"stage{stage}_block1",
        )(x)
        first_identity = 2
    identity_blocks = num_blocks - first_identity + 1
    if scan is None:
        scan = identity_blocks >= SCAN_MIN_BLOCKS
    if scan and identity_blocks > 0:
        return IdentityResidualStack(
            identity_blocks,
            filters,
            block_type=block_type,
            remat=remat,
            block_prefix=f"stage{stage}_block",
            first_block=first_identity,
            name=f"stage{stage}_stack",
        )(x)
    for block in range(first_identity, num_blocks + 1):
        x = IdentityResidualBlock(
            filters, block_type=block_type, remat=remat, name=f"stage{stage}_block{block}"
        )(x)
    return x


def ProcrustesResNet(
    stackwise_num_blocks,
    stackwise_num_filters,
    block_type="bottleneck",
    procrustes=True,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=(32, 32, 3),
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    projection_probability=0.5,
    projection_engine="svd",
    projection_iterations=10,
    projection_target_scale=1.0,
    project_stem=True,
    project_transitions=True,
    seed=0,
    remat=False,
    scan=None,
    include_preprocessing=False,
    preprocessing_mean=None,
    preprocessing_std=None,
    name="procrustes_resnet",
):
    """Builds a pre-activation CIFAR ResNet, in Procrustes or baseline form.

    Procrustes form (`procrustes=True`, Zaeemzadeh et al. 2020): a projected
    3x3 stem to the first stage's output width (no BN/ReLU after it), stages
    of identity residual blocks only, and standalone projected 1x1 stride-2
    transitions that double the width between stages. Baseline form
    (`procrustes=False`, He et al. 2016): a plain 3x3 stem to the first
    stage's inner width; the first block of each stage has a 1x1 conv
    shortcut (strided from stage 2 on). Both end in BN-ReLU, pooling and the
    classifier. All convs are bias-free.

    Args:
        stackwise_num_blocks: residual blocks per stage, e.g. `[18, 18, 18]`.
        stackwise_num_filters: inner width per stage, e.g. `[16, 32, 64]`;
            a bottleneck block outputs 4 times this.
        block_type: `"bottleneck"` or `"basic"`.
        procrustes: the Procrustes form (`True`) or the baseline.
        include_top: whether to add the classifier.
        weights: `None` or the path of a weights file to load.
        input_tensor: optional Keras tensor to use as the input.
        input_shape: `(height, width, channels)`; height and width must be
            fixed in the Procrustes form and at least `2 ** num_stages`.
        pooling: `None`, `"avg"` or `"max"` when `include_top=False`.
        classes: number of classes when `include_top=True`.
        classifier_activation: activation of the classifier.
        projection_probability: chance of projecting at an optimizer step.
        projection_engine: `"svd"` or `"newton_schulz"`.
        projection_iterations: Newton-Schulz iterations.
        projection_target_scale: multiplies the target `sqrt(c_out / c_in)`.
        project_stem: project the stem (else a plain conv in its place).
        project_transitions: project the transitions (else plain convs).
        seed: shifts the sequence of projected steps.
        remat: recompute each residual block in the backward pass instead
            of storing its activations (`keras.remat`): less memory for
            deep nets and big batches, at the cost of a second forward.
        scan: run each stage's identity blocks as one `keras.ops.scan`
            (an `IdentityResidualStack`), so that trace and compile time do
            not grow with depth; `None` scans the stages of at least
            `SCAN_MIN_BLOCKS` identity blocks. The outputs are the same;
            `models.convert_weights` moves weights between the two forms.
        include_preprocessing: start with a `Normalization` layer, so the
            model takes raw pixel values in [0, 255].
        preprocessing_mean: per-channel mean of the raw pixels (the
            training set's), required with `include_preprocessing`.
        preprocessing_std: per-channel standard deviation, likewise.
        name: the model's name.

    Returns:
        An uncompiled `keras.Model`.
    """
    _check_arguments(
        stackwise_num_blocks,
        stackwise_num_filters,
        block_type,
        weights,
        input_shape,
        include_top,
        pooling,
        classes,
        procrustes,
    )
    if input_tensor is None:
        img_input = layers.Input(shape=input_shape)
    elif not keras.backend.is_keras_tensor(input_tensor):
        img_input = layers.Input(tensor=input_tensor, shape=input_shape)
    else:
        img_input = input_tensor
    x = img_input
    if include_preprocessing:
        x = _normalization(input_shape, preprocessing_mean, preprocessing_std)(x)
    projection_kwargs = {
        "probability": projection_probability,
        "engine": projection_engine,
        "iterations": projection_iterations,
        "target_scale": projection_target_scale,
        "seed": seed,
    }
    expansion = 4 if block_type == "bottleneck" else 1
    stem_width = stackwise_num_filters[0] * (expansion if procrustes else 1)
    x = _stem(x, stem_width, procrustes and project_stem, projection_kwargs)
    stages = zip(stackwise_num_blocks, stackwise_num_filters)
    for stage, (num_blocks, filters) in enumerate(stages, start=1):
        if procrustes and stage > 1:
            transition_kwargs = projection_kwargs if project_transitions else None
            x = _transition(x, filters * expansion, stage - 1, transition_kwargs)
        x = _stage(x, stage, num_blocks, filters, block_type, procrustes, remat, scan)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="post_bn")(x)
    x = layers.Activation("relu", name="post_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(
            classes,
            activation=classifier_activation,
            dtype=keras.mixed_precision.dtype_policy().variable_dtype,
            name="predictions",
        )(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    inputs = (
        keras.utils.get_source_inputs(input_tensor)
        if input_tensor is not None
        else img_input
    )
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


def blocks_per_stage(depth, block_type="bottleneck", procrustes=True):
    """Blocks per stage `n` for a named depth.

    Bottleneck nets have `9n + 2` layers (He et al.: 164, 272, 632, 1001) and
    their Procrustes form `9n + 4` (166, 274, 634, 1003); basic-block nets
    have `6n + 2` (56, 110) and `6n + 4` in Procrustes form. Either count is
    accepted for the Procrustes form.

    Args:
        depth: the layer count.
        block_type: `"bottleneck"` or `"basic"`.
        procrustes: whether the Procrustes count is allowed.

    Returns:
        `n`, a positive int.
    """
    if block_type not in LAYERS_PER_BLOCK:
        raise ValueError(
            f"`block_type` must be one of {BLOCK_TYPES}. "
            f"Received block_type={block_type!r}"
        )
    per_block = 3 * LAYERS_PER_BLOCK[block_type]
    offsets = (2, 4) if procrustes else (2,)
    for offset in offsets:
        if isinstance(depth, int) and depth > offset and (depth - offset) % per_block == 0:
            return (depth - offset) // per_block
    forms = " or ".join(f"{per_block}n+{o}" for o in offsets)
    raise ValueError(
        f"A {block_type} ResNet{' (Procrustes)' if procrustes else ''} has "
        f"depth {forms} for a positive int n. Received depth={depth}"
    )


DOC = """

    Reference: Zaeemzadeh, Rahnavard & Shah, "Norm-Preservation: Why
    Residual Networks Can Become Extremely Deep?", TPAMI 2020; baseline from
    He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016.

    Args:
        procrustes: `True` builds the Procrustes form (identity blocks only,
            projected stem and transitions), `False` He et al.'s baseline.
        include_top: whether to add the classifier.
        weights: `None` or the path of a weights file to load.
        input_tensor: optional Keras tensor to use as the input.
        input_shape: `(height, width, channels)`, default `(32, 32, 3)`.
        pooling: `None`, `"avg"` or `"max"` when `include_top=False`.
        classes: number of classes, default 10.
        classifier_activation: activation of the classifier.
        name: the model's name.
        **kwargs: other options of `ProcrustesResNet`
            (`projection_probability`, `projection_engine`, `remat`,
            `scan`, ...).

    Returns:
        An uncompiled `keras.Model`.

    Example:
    >>> model = resnet164()
    >>> model.compile("sgd", "sparse_categorical_crossentropy")
"""


def resnet(
    depth,
    block_type="bottleneck",
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
    """A CIFAR ResNet of any depth: `9n+2` bottleneck, `6n+2` basic.

    `depth` is the layer count, e.g. 164, 272, 632, 1001 for
    `block_type="bottleneck"` or 56, 110 for `"basic"`; for the Procrustes
    form it may also be given as its own count (`9n+4`, `6n+4`). Widths are
    16/32/64 (inner) over three stages of `n` blocks. The default name is
    `procresnet{9n+4}` or `resnet{9n+2}`.
    """
    n = blocks_per_stage(depth, block_type, procrustes)
    if name is None:
        base_depth = 3 * LAYERS_PER_BLOCK[block_type] * n + 2
        name = f"procresnet{base_depth + 2}" if procrustes else f"resnet{base_depth}"
    return ProcrustesResNet(
        [n, n, n],
        [16, 32, 64],
        block_type=block_type,
        procrustes=procrustes,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        **kwargs,
    )


def resnet56(procrustes=True, **kwargs):
    """ResNet-56: basic blocks, 9 per stage, widths 16/32/64.

    The Procrustes form has a projected 3x3 stem 3->16 and projected 1x1
    transitions 16->32, 32->64 (58 weighted layers); the baseline has 56.
    """
    return resnet(56, "basic", procrustes, **kwargs)


def resnet164(procrustes=True, **kwargs):
    """ResNet-164 (baseline) / ProcResNet-166: bottleneck, 18 per stage.

    The Procrustes form counts 166 layers: stem, 162 in 54 blocks, 2
    transitions, classifier; 1,715,018 trainable parameters with 10 classes.
    """
    return resnet(164, "bottleneck", procrustes, **kwargs)


def resnet1001(procrustes=True, **kwargs):
    """ResNet-1001 (baseline) / ProcResNet-1003: bottleneck, 111 per stage.

    The Procrustes form counts 1003 layers; 10,339,466 trainable parameters
    with 10 classes.
    """
    return resnet(1001, "bottleneck", procrustes, **kwargs)


for _builder in (resnet, resnet56, resnet164, resnet1001):
    if _builder.__doc__ is not None:  # None under `python -OO`
        _builder.__doc__ += DOC
