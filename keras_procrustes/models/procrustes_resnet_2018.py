"""The first form of Procrustes ResNets (arXiv:1805.07477 v1, 2018), for CIFAR.

Zaeemzadeh, Rahnavard & Shah's first version proposed "zero-phase
whitening of the fully-connected layer and adding norm-preserving
transition layers": every residual block an identity block, and no learned
transition at all. The width changes by channel duplication `[x, x]`, the
resolution by non-overlapping L2 pooling, the head pools by the L2 norm,
and the classifier's weight matrix is kept on orthonormal rows.

Its names (`procresnet164_2018`) are read by `models.names`, with the others.
"""

import keras
from keras import layers

from keras_procrustes import checks
from keras_procrustes.layers import ChannelDuplication
from keras_procrustes.layers import GlobalL2Pooling2D
from keras_procrustes.layers import OrthonormalDense
from keras_procrustes.layers import ParameterFreeTransition
from keras_procrustes.models import arguments
from keras_procrustes.models import procrustes_resnet as graph
from keras_procrustes.models import resnet
from keras_procrustes.models.features import pyramid_outputs
from keras_procrustes.models import names
from keras_procrustes.models.weights import load_weights_file
from keras_procrustes.models.weights import weights_file

POOLINGS = (None, "avg", "max", "l2")


def _check_widths(stackwise_num_filters, input_shape, argument):
    """Duplication doubles the width and pooling halves the size: check both."""
    for previous, current in zip(stackwise_num_filters, stackwise_num_filters[1:]):
        if current != 2 * previous:
            raise ValueError(
                "The 2018 form doubles the width at each transition by channel "
                "duplication: every stage's `stackwise_num_filters` must be twice "
                f"the previous one's. Received stackwise_num_filters={stackwise_num_filters}"
            )
    step = 2 ** (len(stackwise_num_filters) - 1)
    if any(n is not None and n % step for n in input_shape[:2]):
        raise ValueError(
            f"L2 pooling keeps the norm only where its windows cover the input: "
            f"height and width must be multiples of {step}. "
            f"Received {argument}={tuple(input_shape)}"
        )


class Float16Error(ValueError):
    """The 2018 form was asked to compute in float16, whose range its activations pass."""


def _check_policy(policy):
    """Refuses a float16 compute dtype: the 2018 form's activations overflow it.

    No layer normalises the residual stream between the stem and the head
    (L2 pooling and duplication keep its norm), so it grows block after
    block. In inference, batch norm divides by moving statistics that lag
    the stream's size (its initial moving variance is 1), and the branches
    then carry values past float16's largest (65504): `procresnet56_2018`
    under `mixed_float16` predicted 0.1 for every class when built, and
    its validation loss was NaN after two short epochs, even with the
    stream itself kept in float32. bfloat16 has float32's range.
    """
    if policy.compute_dtype == "float16":
        raise Float16Error(
            "The 2018 form can't compute in float16: nothing normalises its residual "
            "stream, whose activations pass float16's largest value (65504), and the "
            "model then predicts the same for every image. Use \"mixed_bfloat16\" or "
            f"\"float32\". Received dtype={policy.name!r}"
        )


def _stem(x, filters, out_channels, policy):
    """Conv3x3 (no BN/ReLU after), then `[x, x]` until the stage's width."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                      kernel_initializer="he_normal", dtype=policy, name="stem_conv")(x)
    copies = 1
    while filters * copies < out_channels:
        x = ChannelDuplication(dtype=policy, name=f"stem_duplication{copies.bit_length()}")(x)
        copies *= 2
    return x


def _head(x, include_top, pooling, classes, classifier_activation, projection, policy):
    """Global L2 pooling and the orthonormal classifier, or a pooling alone."""
    if include_top:
        x = GlobalL2Pooling2D(dtype=policy, name="l2_pool")(x)
        return OrthonormalDense(classes, activation=classifier_activation,
                                dtype=policy.variable_dtype, name="predictions",
                                **projection)(x)
    if pooling == "l2":
        return GlobalL2Pooling2D(dtype=policy, name="l2_pool")(x)
    return graph.global_pool(x, pooling, policy)


def ProcrustesResNet2018(
    stackwise_num_blocks,
    stackwise_num_filters,
    block_type="bottleneck",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=(32, 32, 3),
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    projection_engine="svd",
    projection_iterations=10,
    projection_probability=1.0,
    seed=0,
    remat=False,
    scan=None,
    include_preprocessing=True,
    preprocessing_mean=None,
    preprocessing_std=None,
    dtype=None,
    name="procrustes_resnet_2018",
):
    """Builds the paper's first (2018) form of a pre-activation CIFAR ResNet.

    A 3x3 stem conv to the first stage's inner width (no BN/ReLU after),
    channel duplication up to the stage's output width (twice, 16 -> 64,
    for bottleneck blocks), stages of identity residual blocks, and between
    stages a `ParameterFreeTransition` (2x2 L2 pooling, then `[x, x]`). The
    head is BN-ReLU, global L2 pooling and an `OrthonormalDense` classifier
    (with bias) whose weight matrix has orthonormal rows from the start and
    after every optimizer step. All convs are bias-free.

    Args:
        stackwise_num_blocks: identity blocks per stage, e.g. `[18, 18, 18]`.
        stackwise_num_filters: inner width per stage, each twice the
            previous one, e.g. `[16, 32, 64]`.
        block_type: `"bottleneck"` or `"basic"`.
        include_top: whether to add the classifier.
        weights: `None` or the path of a weights file.
        input_tensor: optional Keras tensor to use as the input; its shape
            is then the model's, checked as `input_shape` is.
        input_shape: `(height, width, channels)`, channels last (a
            `channels_first` data format is refused); height and width
            (when known) must be multiples of `2 ** (num_stages - 1)`.
        pooling: `None`, `"l2"`, `"avg"` or `"max"` when `include_top=False`.
        classes: number of classes when `include_top=True`.
        classifier_activation: activation of the classifier.
        projection_engine: the classifier's polar factor, `"svd"` or
            `"newton_schulz"`.
        projection_iterations: Newton-Schulz iterations.
        projection_probability: the chance of projecting the classifier at
            an optimizer step; 1 (every step) is the authors'.
        seed: shifts the sequence of projected steps (probability < 1).
        remat: recompute each residual block in the backward pass.
        scan: run each stage as one `IdentityResidualStack`; `None` scans
            the stages of at least `models.SCAN_MIN_BLOCKS` blocks.
        include_preprocessing: start with `(x - mean) / std` per channel,
            so that the model takes raw pixels in [0, 255].
        preprocessing_mean: per-channel mean of the raw pixels, or one
            number; `None` with `preprocessing_std=None` maps [0, 255] to
            [-1, 1].
        preprocessing_std: per-channel standard deviation, likewise.
        dtype: the layers' dtype policy; `None` for the global one. Not
            a float16 one (`mixed_float16`): the activations overflow it;
            `mixed_bfloat16` has float32's range.
        name: the model's name.

    Returns:
        An uncompiled `keras.Model` with `pyramid_outputs` (`P0`, `P1`, ...).

    Raises:
        ValueError: naming the first bad argument (a width that does not
            double, a size that the pooling windows do not cover, a float16
            dtype policy, ...), or a `channels_first` data format.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"`pooling` must be one of {POOLINGS}. Received pooling={pooling!r}")
    arguments.check_data_format()
    arguments.check_stages(stackwise_num_blocks, stackwise_num_filters, block_type)
    arguments.check_head(include_top, None, classes)
    input_shape, argument = arguments.model_input_shape(input_tensor, input_shape)
    arguments.check_input_shape(input_shape, len(stackwise_num_blocks), False, argument)
    _check_widths(stackwise_num_filters, input_shape, argument)
    statistics = arguments.preprocessing_statistics(
        include_preprocessing, input_shape[-1], preprocessing_mean, preprocessing_std
    )
    policy = arguments.dtype_policy(dtype)
    _check_policy(policy)
    weights_path = weights_file(weights)
    img_input = graph.model_input(input_tensor, input_shape)
    x = graph.normalize_pixels(img_input, statistics, policy)
    out_channels = [checks.block_output_channels(f, block_type) for f in stackwise_num_filters]
    x = _stem(x, stackwise_num_filters[0], out_channels[0], policy)
    stages = zip(stackwise_num_blocks, stackwise_num_filters)
    for stage, (num_blocks, filters) in enumerate(stages, start=1):
        if stage > 1:
            x = ParameterFreeTransition(2, dtype=policy, name=f"transition{stage - 1}")(x)
        x = graph.identity_stage(x, stage, num_blocks, filters, block_type, True, remat, scan, policy)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, dtype=policy, name="post_bn")(x)
    x = layers.Activation("relu", dtype=policy, name="post_relu")(x)
    projection = {"engine": projection_engine, "iterations": projection_iterations,
                  "probability": projection_probability, "seed": seed}
    x = _head(x, include_top, pooling, classes, classifier_activation, projection, policy)
    inputs = keras.utils.get_source_inputs(input_tensor) if input_tensor is not None else img_input
    model = keras.Model(inputs, x, name=name)
    object.__setattr__(model, "pyramid_outputs", pyramid_outputs(model))
    if weights_path is not None:
        load_weights_file(model, weights_path)
    return model


def procresnet_2018(depth, block_type=None, name=None, **kwargs):
    """The 2018 form at He et al.'s depth `depth`: `9n+2` bottleneck, `6n+2` basic.

    Three stages of `n` identity blocks, inner widths 16/32/64. He et al.'s
    depths fix the block type (56 basic; 164, 1001 bottleneck); any other
    depth needs `block_type`. The default name is the architecture's
    (`procresnet164_2018`, `procresnet56_2018`).

    Reference: Zaeemzadeh, Rahnavard & Shah, "Norm-Preservation: Why
    Residual Networks Can Become Extremely Deep?", arXiv:1805.07477 v1, 2018.

    Args:
        depth: the layer count (stem, residual convs, classifier).
        block_type: `"bottleneck"`, `"basic"`, or `None` for He et al.'s.
        name: the model's name; default its canonical name.
        **kwargs: other arguments of `ProcrustesResNet2018` (`classes`,
            `input_shape`, `include_top`, `pooling`, `scan`, ...).

    Returns:
        An uncompiled `keras.Model`, with `pyramid_outputs`.

    Raises:
        ValueError: for a depth that is not `9n+2` (bottleneck) or `6n+2`
            (basic), or not one of He et al.'s without `block_type`.

    Example:
    >>> model = procresnet_2018(164)       # = models.get("procresnet164_2018")
    >>> small = procresnet_2018(56, classes=100)
    """
    block_type = names.family_block_type(depth, block_type)
    n = resnet.blocks_per_stage(depth, block_type)
    canonical = names.format_name(depth, block_type, "2018")
    return ProcrustesResNet2018([n] * checks.STAGES, list(checks.STAGE_WIDTHS),
                                block_type=block_type,
                                name=canonical if name is None else name, **kwargs)

