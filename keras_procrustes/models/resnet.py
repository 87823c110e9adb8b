"""Procrustes ResNets and He et al.'s pre-activation baselines, for CIFAR.

One generic constructor, `ProcrustesResNet`, takes the per-stage block counts
and widths; `resnet(depth)` builds the CIFAR net of a depth, and the family
builders (`resnet20` ... `resnet1001`, one for each depth of the preset
table) are thin wrappers around it.
"""

import math
import textwrap
import warnings

import keras
from keras import layers

from keras_procrustes.layers import IdentityResidualBlock
from keras_procrustes.layers import IdentityResidualStack
from keras_procrustes.layers import NormPreservingTransition
from keras_procrustes.layers import PixelNormalization
from keras_procrustes.layers import ProjectionResidualBlock
from keras_procrustes.layers.residual_block import BLOCK_TYPES
from keras_procrustes.models import names
from keras_procrustes.models.features import pyramid_outputs
from keras_procrustes.models.presets import PRESETS
from keras_procrustes.models.weights import load_weights_file
from keras_procrustes.models.weights import weights_file

# Conv layers per block, by block type: depth = LAYERS * blocks + 2 (stem
# and classifier) for the baseline, + 2 more (the transitions) for the
# Procrustes form.
LAYERS_PER_BLOCK = names.LAYERS_PER_BLOCK

# With `include_preprocessing=True` and no statistics, raw pixels in
# [0, 255] are mapped to [-1, 1], as keras.applications' MobileNetV3 does.
DEFAULT_PIXEL_MEAN = 127.5
DEFAULT_PIXEL_STD = 127.5

# With `scan=None`, a stage runs as one scan from this many identity blocks
# on (benchmarks/depth.py: below it, unrolled blocks trace quickly anyway).
SCAN_MIN_BLOCKS = 12


def _check_arguments(
    stackwise_num_blocks,
    stackwise_num_filters,
    block_type,
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
        isinstance(n, int) and not isinstance(n, bool) and n > 0
        for n in list(stackwise_num_blocks) + list(stackwise_num_filters)
    ):
        raise ValueError(
            "`stackwise_num_blocks` and `stackwise_num_filters` must be "
            "lists of positive ints of the same length. Received "
            f"stackwise_num_blocks={stackwise_num_blocks}, "
            f"stackwise_num_filters={stackwise_num_filters}"
        )
    if include_top and (
        not isinstance(classes, int) or isinstance(classes, bool) or classes < 1
    ):
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


def _dtype_policy(dtype):
    """The `DTypePolicy` of `dtype`, or the global one for `None`.

    A ValueError names a dtype that is not a policy, or one the backend
    would silently compute in another dtype (float64 on JAX without its
    64-bit mode).
    """
    if dtype is None:
        return keras.config.dtype_policy()
    try:
        policy = keras.dtype_policies.get(dtype)
    except (ValueError, TypeError):
        raise ValueError(
            "`dtype` must be a dtype policy or its name (\"float32\", "
            f"\"float64\", \"mixed_bfloat16\", ...). Received dtype={dtype!r}"
        ) from None
    for name in {policy.compute_dtype, policy.variable_dtype}:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # JAX warns before it truncates
            made = keras.backend.standardize_dtype(keras.ops.zeros((), name).dtype)
        if made != name:
            raise ValueError(
                f"The {keras.backend.backend()} backend makes {made} tensors when "
                f"asked for {name} (on JAX, set JAX_ENABLE_X64=1 for float64). "
                f"Received dtype={dtype!r}"
            )
    return policy


def _channel_values(name, values, channels):
    """`values` as `channels` floats; a scalar serves every channel."""
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        return [float(values)] * channels
    try:
        floats = [float(v) for v in values]
    except (TypeError, ValueError):
        floats = None
    if floats is None or any(isinstance(v, bool) for v in values) or len(
        floats
    ) != channels:
        raise ValueError(
            f"`{name}` must be one number or {channels} per-channel values of "
            f"the raw pixels (or be None with its partner: [0, 255] to "
            f"[-1, 1]). Received {name}={values!r}"
        )
    return floats


def _normalization(input_shape, mean, std, dtype):
    """The input layer `(x - mean) / std` of `include_preprocessing`."""
    channels = input_shape[-1]
    if mean is None and std is None:
        mean, std = DEFAULT_PIXEL_MEAN, DEFAULT_PIXEL_STD
    means = _channel_values("preprocessing_mean", mean, channels)
    stds = _channel_values("preprocessing_std", std, channels)
    if not all(math.isfinite(m) for m in means):
        raise ValueError(
            "`preprocessing_mean` must be finite. "
            f"Received preprocessing_mean={mean!r}"
        )
    if not all(math.isfinite(s) and s > 0 for s in stds):
        raise ValueError(
            "`preprocessing_std` must be finite and positive. "
            f"Received preprocessing_std={std!r}"
        )
    return PixelNormalization(
        mean=means,
        variance=[s**2 for s in stds],
        dtype=dtype,
        name="normalization",
    )


def _stem(x, filters, procrustes, projection_kwargs, dtype):
    """The 3x3 stem conv: projected (no BN/ReLU after) or plain."""
    if procrustes:
        return NormPreservingTransition(
            filters, 3, strides=1, dtype=dtype, name="stem_conv", **projection_kwargs
        )(x)
    return layers.Conv2D(
        filters,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        dtype=dtype,
        name="stem_conv",
    )(x)


def _transition(x, filters, index, projection_kwargs, dtype):
    """A standalone 1x1 stride-2 transition, projected or plain."""
    name = f"transition{index}"
    if projection_kwargs is not None:
        return NormPreservingTransition(
            filters, dtype=dtype, name=name, **projection_kwargs
        )(x)
    return layers.Conv2D(
        filters,
        1,
        strides=2,
        use_bias=False,
        kernel_initializer="he_normal",
        dtype=dtype,
        name=name,
    )(x)


def _stage(x, stage, num_blocks, filters, block_type, procrustes, remat, scan, dtype):
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
            dtype=dtype,
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
            dtype=dtype,
            name=f"stage{stage}_stack",
        )(x)
    for block in range(first_identity, num_blocks + 1):
        x = IdentityResidualBlock(
            filters,
            block_type=block_type,
            remat=remat,
            dtype=dtype,
            name=f"stage{stage}_block{block}",
        )(x)
    return x


def _head(x, include_top, pooling, classes, classifier_activation, policy):
    """Pooling and the classifier (its outputs in the variable dtype)."""
    if include_top:
        x = layers.GlobalAveragePooling2D(dtype=policy, name="avg_pool")(x)
        return layers.Dense(
            classes,
            activation=classifier_activation,
            dtype=policy.variable_dtype,
            name="predictions",
        )(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(dtype=policy, name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(dtype=policy, name="max_pool")(x)
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
    include_preprocessing=True,
    preprocessing_mean=None,
    preprocessing_std=None,
    dtype=None,
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

    The model takes raw pixel values in [0, 255] (`include_preprocessing`),
    as keras.applications' models do. Its `pyramid_outputs` attribute holds
    each stage's output (`models.pyramid_outputs`), keras-hub style, for use
    as a backbone.

    Args:
        stackwise_num_blocks: residual blocks per stage, e.g. `[18, 18, 18]`.
        stackwise_num_filters: inner width per stage, e.g. `[16, 32, 64]`;
            a bottleneck block outputs 4 times this.
        block_type: `"bottleneck"` or `"basic"`.
        procrustes: the Procrustes form (`True`) or the baseline.
        include_top: whether to add the classifier.
        weights: `None`, the path of a weights file, or the name of a
            preset with published weights (`models.list_models(pretrained=True)`).
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
        include_preprocessing: start with a `Normalization` layer
            (`(x - mean) / std` per channel), so that the model takes raw
            pixel values in [0, 255]. `False` for inputs normalised outside.
        preprocessing_mean: per-channel mean of the raw pixels (the
            training set's), or one number for every channel; `None` with `preprocessing_std=None` maps
            [0, 255] to [-1, 1] (mean and std 127.5).
        preprocessing_std: per-channel standard deviation (finite and
            positive), likewise. Both only with `include_preprocessing`.
        dtype: the layers' dtype policy (`"float32"`, `"float64"`,
            `"mixed_bfloat16"`, a `keras.DTypePolicy`); `None` for the
            global policy. The classifier computes in the policy's
            variable dtype, so predictions are float32 under mixed precision.
        name: the model's name.

    Returns:
        An uncompiled `keras.Model`.
    """
    _check_arguments(
        stackwise_num_blocks,
        stackwise_num_filters,
        block_type,
        input_shape,
        include_top,
        pooling,
        classes,
        procrustes,
    )
    if not include_preprocessing:
        for arg, value in (
            ("preprocessing_mean", preprocessing_mean),
            ("preprocessing_std", preprocessing_std),
        ):
            if value is not None:
                raise ValueError(
                    f"`{arg}` is the statistics of the `Normalization` layer of "
                    "`include_preprocessing=True`; with include_preprocessing="
                    f"False there is none. Received {arg}={value!r}"
                )
    policy = _dtype_policy(dtype)
    weights_path = weights_file(weights)
    if input_tensor is None:
        img_input = layers.Input(shape=input_shape)
    elif not keras.backend.is_keras_tensor(input_tensor):
        img_input = layers.Input(tensor=input_tensor, shape=input_shape)
    else:
        img_input = input_tensor
    x = img_input
    if include_preprocessing:
        x = _normalization(input_shape, preprocessing_mean, preprocessing_std, policy)(x)
    projection_kwargs = {
        "probability": projection_probability,
        "engine": projection_engine,
        "iterations": projection_iterations,
        "target_scale": projection_target_scale,
        "seed": seed,
    }
    expansion = 4 if block_type == "bottleneck" else 1
    stem_width = stackwise_num_filters[0] * (expansion if procrustes else 1)
    x = _stem(x, stem_width, procrustes and project_stem, projection_kwargs, policy)
    stages = zip(stackwise_num_blocks, stackwise_num_filters)
    for stage, (num_blocks, filters) in enumerate(stages, start=1):
        if procrustes and stage > 1:
            transition_kwargs = projection_kwargs if project_transitions else None
            x = _transition(x, filters * expansion, stage - 1, transition_kwargs, policy)
        x = _stage(
            x, stage, num_blocks, filters, block_type, procrustes, remat, scan, policy
        )
    x = layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, dtype=policy, name="post_bn"
    )(x)
    x = layers.Activation("relu", dtype=policy, name="post_relu")(x)
    x = _head(x, include_top, pooling, classes, classifier_activation, policy)
    inputs = (
        keras.utils.get_source_inputs(input_tensor)
        if input_tensor is not None
        else img_input
    )
    model = keras.Model(inputs, x, name=name)
    # A plain dict, untracked: Keras would wrap it in a TrackedDict, which a
    # model built on these outputs can't return on JAX.
    object.__setattr__(model, "pyramid_outputs", pyramid_outputs(model))
    if weights_path is not None:
        load_weights_file(model, weights_path)
    return model


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
    """
    if block_type not in LAYERS_PER_BLOCK:
        raise ValueError(
            f"`block_type` must be one of {BLOCK_TYPES}. "
            f"Received block_type={block_type!r}"
        )
    per_stage = 3 * LAYERS_PER_BLOCK[block_type]
    if names.is_valid_depth(depth, block_type):
        return (depth - 2) // per_stage
    hint = ""
    if isinstance(depth, int) and names.is_valid_depth(depth - 2, block_type):
        hint = (f" It is ProcResNet-{depth}'s count: depth counts the "
                f"baseline's layers, so pass depth={depth - 2}.")
    raise ValueError(
        f"A {block_type} ResNet has depth {per_stage}n+2 for a positive int "
        f"n. Received depth={depth}.{hint}"
    )


DOC = """

    Reference: Zaeemzadeh, Rahnavard & Shah, "Norm-Preservation: Why
    Residual Networks Can Become Extremely Deep?", TPAMI 2020; baseline from
    He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016.

    Args:
        procrustes: `True` builds the Procrustes form (identity blocks only,
            projected stem and transitions), `False` He et al.'s baseline.
        include_top: whether to add the classifier.
        weights: `None`, the path of a weights file, or a preset name.
        input_tensor: optional Keras tensor to use as the input.
        input_shape: `(height, width, channels)`, default `(32, 32, 3)`.
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
    (ProcResNet-166 is `resnet(164)`). He et al.'s depths fix the block type
    (20, 32, 44, 56, 110 basic; 164, 272, 632, 1001 bottleneck); any other
    depth needs `block_type`. Widths are 16/32/64 (inner) over three stages
    of `n` blocks. The default name is the architecture's
    (`models.canonical_name`: `procresnet166`, `resnet164_baseline`,
    `procresnet13_bottleneck`).
    """
    block_type = names.family_block_type(depth, block_type)
    n = blocks_per_stage(depth, block_type)
    canonical = names.canonical_name(depth, block_type, bool(procrustes))
    return ProcrustesResNet(
        [n, n, n],
        [16, 32, 64],
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
    return resnet(depth, names.FAMILIES[depth], procrustes, **kwargs)


def resnet20(procrustes=True, **kwargs):
    """ResNet-20 / ProcResNet-22: basic blocks, 3 a stage."""
    return _family(20, procrustes, kwargs)


def resnet32(procrustes=True, **kwargs):
    """ResNet-32 / ProcResNet-34: basic blocks, 5 a stage."""
    return _family(32, procrustes, kwargs)


def resnet44(procrustes=True, **kwargs):
    """ResNet-44 / ProcResNet-46: basic blocks, 7 a stage."""
    return _family(44, procrustes, kwargs)


def resnet56(procrustes=True, **kwargs):
    """ResNet-56 / ProcResNet-58: basic blocks, 9 a stage.

    The Procrustes form has a projected 3x3 stem 3->16 and projected 1x1
    transitions 16->32, 32->64 (58 weighted layers); the baseline has 56.
    """
    return _family(56, procrustes, kwargs)


def resnet110(procrustes=True, **kwargs):
    """ResNet-110 / ProcResNet-112: basic blocks, 18 a stage."""
    return _family(110, procrustes, kwargs)


def resnet164(procrustes=True, **kwargs):
    """ResNet-164 / ProcResNet-166: bottleneck blocks, 18 a stage.

    The Procrustes form counts 166 layers: stem, 162 in 54 blocks, 2
    transitions, classifier.
    """
    return _family(164, procrustes, kwargs)


def resnet272(procrustes=True, **kwargs):
    """ResNet-272 / ProcResNet-274: bottleneck blocks, 30 a stage."""
    return _family(272, procrustes, kwargs)


def resnet632(procrustes=True, **kwargs):
    """ResNet-632 / ProcResNet-634: bottleneck blocks, 70 a stage."""
    return _family(632, procrustes, kwargs)


def resnet1001(procrustes=True, **kwargs):
    """ResNet-1001 / ProcResNet-1003: bottleneck blocks, 111 a stage."""
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
