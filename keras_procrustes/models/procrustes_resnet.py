"""`ProcrustesResNet`: the graph of a pre-activation CIFAR ResNet, in either form.

The Procrustes form is Zaeemzadeh, Rahnavard & Shah, "Norm-Preservation:
Why Residual Networks Can Become Extremely Deep?", TPAMI 2020
(arXiv:1805.07477); the baseline is He et al., "Identity Mappings in Deep
Residual Networks", ECCV 2016 (arXiv:1603.05027).
"""

import keras
from keras import layers

from keras_procrustes.checks import block_output_channels
from keras_procrustes.layers import ConvShortcutResidualBlock
from keras_procrustes.layers import IdentityResidualBlock
from keras_procrustes.layers import IdentityResidualStack
from keras_procrustes.layers import NormPreservingTransition
from keras_procrustes.layers import PixelNormalization
from keras_procrustes.models import arguments
from keras_procrustes.models.features import pyramid_outputs
from keras_procrustes.models.weights import load_weights_file
from keras_procrustes.models.weights import weights_file

# With `scan=None`, a stage runs as one scan from this many identity blocks
# on (benchmarks/depth.py: below it, unrolled blocks trace quickly anyway).
SCAN_MIN_BLOCKS = 12
"""With `scan=None`, stages of at least this many identity blocks run as one scan."""


def model_input(input_tensor, input_shape):
    """The model's input tensor, keras.applications style."""
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not keras.backend.is_keras_tensor(input_tensor):
        return layers.Input(tensor=input_tensor, shape=input_shape)
    return input_tensor


def normalize_pixels(x, statistics, policy):
    """`(x - mean) / std` per channel, or `x` itself when `statistics` is None.

    Args:
        x: the raw pixels.
        statistics: `(means, stds)` from `arguments.preprocessing_statistics`,
            or None.
        policy: the layers' dtype policy.

    Returns:
        The normalised tensor.
    """
    if statistics is None:
        return x
    means, stds = statistics
    return PixelNormalization(
        mean=means, variance=[s**2 for s in stds], dtype=policy, name="normalization"
    )(x)


def _stem(x, filters, procrustes, projection_kwargs, dtype):
    """The 3x3 stem conv: projected (no BN/ReLU after) or plain."""
    if procrustes:
        return NormPreservingTransition(
            filters, 3, strides=1, dtype=dtype, name="stem_conv", **projection_kwargs
        )(x)
    return layers.Conv2D(
        filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
        dtype=dtype, name="stem_conv",
    )(x)


def _transition(x, filters, index, projection_kwargs, dtype):
    """A standalone 1x1 stride-2 transition, projected or plain."""
    name = f"transition{index}"
    if projection_kwargs is not None:
        return NormPreservingTransition(
            filters, dtype=dtype, name=name, **projection_kwargs
        )(x)
    return layers.Conv2D(
        filters, 1, strides=2, use_bias=False, kernel_initializer="he_normal",
        dtype=dtype, name=name,
    )(x)


def identity_stage(x, stage, num_blocks, filters, block_type, procrustes, remat, scan, dtype):
    """The residual blocks of one stage, named `stage{s}_block{b}`.

    The first block of a baseline stage has a conv shortcut. The identity
    blocks are unrolled, or with `scan` one `IdentityResidualStack` named
    `stage{s}_stack` whose blocks keep those names.
    """
    out_channels = block_output_channels(filters, block_type)
    first_identity = 1
    if not procrustes and (stage > 1 or x.shape[-1] != out_channels):
        x = ConvShortcutResidualBlock(
            filters, strides=1 if stage == 1 else 2, block_type=block_type,
            remat=remat, dtype=dtype, name=f"stage{stage}_block1",
        )(x)
        first_identity = 2
    identity_blocks = num_blocks - first_identity + 1
    if scan is None:
        scan = identity_blocks >= SCAN_MIN_BLOCKS
    if scan and identity_blocks > 0:
        return IdentityResidualStack(
            identity_blocks, filters, block_type=block_type, remat=remat,
            block_prefix=f"stage{stage}_block", first_block=first_identity,
            dtype=dtype, name=f"stage{stage}_stack",
        )(x)
    for block in range(first_identity, num_blocks + 1):
        x = IdentityResidualBlock(
            filters, block_type=block_type, remat=remat, dtype=dtype,
            name=f"stage{stage}_block{block}",
        )(x)
    return x


def _head(x, include_top, pooling, classes, classifier_activation, policy):
    """Pooling and the classifier (its outputs in the variable dtype)."""
    if include_top:
        x = layers.GlobalAveragePooling2D(dtype=policy, name="avg_pool")(x)
        return layers.Dense(
            classes, activation=classifier_activation,
            dtype=policy.variable_dtype, name="predictions",
        )(x)
    return global_pool(x, pooling, policy)


def global_pool(x, pooling, policy):
    """keras.applications' `pooling` without the top: `"avg"`, `"max"` or None.

    Args:
        x: the last feature map.
        pooling: `"avg"`, `"max"` or None (the map itself).
        policy: the layers' dtype policy.

    Returns:
        The pooled features, or `x`.
    """
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

    Procrustes form (`procrustes=True`, Zaeemzadeh, Rahnavard & Shah, TPAMI
    2020, arXiv:1805.07477): a projected 3x3 stem to the first stage's output
    width (no BN/ReLU after it), stages of identity residual blocks only,
    and standalone projected 1x1 stride-2 transitions that double the width
    between stages. Baseline form (`procrustes=False`, He et al. 2016): a
    plain 3x3 stem to the first stage's inner width; the first block of each
    stage has a 1x1 conv shortcut (strided from stage 2 on). Both end in
    BN-ReLU, pooling and the classifier. All convs are bias-free.

    The model takes raw pixel values in [0, 255] (`include_preprocessing`),
    as keras.applications' models do. It is channels-last only: with
    `keras.config.image_data_format()` set to `"channels_first"` it is
    refused (keras.applications' models follow that setting). Its `pyramid_outputs` attribute holds
    each stage's output (`models.pyramid_outputs`), keras-hub style, for use
    as a backbone.

    Args:
        stackwise_num_blocks: residual blocks per stage, e.g. `[18, 18, 18]`.
        stackwise_num_filters: inner width per stage, e.g. `[16, 32, 64]`;
            a stage outputs `checks.block_output_channels(filters,
            block_type)` channels.
        block_type: `"bottleneck"` or `"basic"`.
        procrustes: the Procrustes form (`True`) or the baseline.
        include_top: whether to add the classifier.
        weights: `None`, the path of a weights file, or the name of a
            preset with published weights (`models.list_models(pretrained=True)`).
        input_tensor: optional Keras tensor to use as the input; its shape
            is then the model's (and `input_shape` is not used).
        input_shape: `(height, width, channels)`, channels last; height
            and width must be fixed in the Procrustes form and at least
            `2 ** num_stages`. The model refuses images of another channel
            count (a grey `(N, 32, 32, 1)` batch for an RGB model).
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
            training set's), or one number for every channel; `None` with
            `preprocessing_std=None` maps [0, 255] to [-1, 1] (mean and std
            127.5).
        preprocessing_std: per-channel standard deviation (finite and
            positive), likewise. Both only with `include_preprocessing`.
        dtype: the layers' dtype policy (`"float32"`, `"float64"`,
            `"mixed_bfloat16"`, a `keras.DTypePolicy`); `None` for the
            global policy. The classifier computes in the policy's
            variable dtype, so predictions are float32 under mixed precision.
        name: the model's name.

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        ValueError: naming the first bad argument (see
            `models.arguments`), an unusable or damaged `weights` file, a
            `channels_first` data format, or a projection option the
            constraint refuses.
    """
    arguments.check_data_format()
    arguments.check_stages(stackwise_num_blocks, stackwise_num_filters, block_type)
    arguments.check_head(include_top, pooling, classes)
    input_shape, argument = arguments.model_input_shape(input_tensor, input_shape)
    arguments.check_input_shape(input_shape, len(stackwise_num_blocks), procrustes, argument)
    statistics = arguments.preprocessing_statistics(
        include_preprocessing, input_shape[-1], preprocessing_mean, preprocessing_std
    )
    policy = arguments.dtype_policy(dtype)
    weights_path = weights_file(weights)
    img_input = model_input(input_tensor, input_shape)
    x = normalize_pixels(img_input, statistics, policy)
    projection_kwargs = {
        "probability": projection_probability,
        "engine": projection_engine,
        "iterations": projection_iterations,
        "target_scale": projection_target_scale,
        "seed": seed,
    }
    first = stackwise_num_filters[0]
    stem_width = block_output_channels(first, block_type) if procrustes else first
    x = _stem(x, stem_width, procrustes and project_stem, projection_kwargs, policy)
    stages = zip(stackwise_num_blocks, stackwise_num_filters)
    for stage, (num_blocks, filters) in enumerate(stages, start=1):
        if procrustes and stage > 1:
            transition_kwargs = projection_kwargs if project_transitions else None
            width = block_output_channels(filters, block_type)
            x = _transition(x, width, stage - 1, transition_kwargs, policy)
        x = identity_stage(
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
