"""The checks of `ProcrustesResNet`'s arguments, its dtype policy and input statistics.

Each function raises a ValueError in Keras' form, naming the first bad
argument and its value; the graph module calls them before it builds.
"""

import warnings

import keras

from keras_procrustes.checks import check_block_type
from keras_procrustes.checks import check_positive_int
from keras_procrustes.checks import is_finite_number
from keras_procrustes.checks import is_int
from keras_procrustes.checks import is_positive_int
from keras_procrustes.checks import is_positive_number

# With `include_preprocessing=True` and no statistics, raw pixels in
# [0, 255] are mapped to [-1, 1], as keras.applications' MobileNetV3 does.
DEFAULT_PIXEL_MEAN = 127.5
DEFAULT_PIXEL_STD = 127.5


def check_stages(stackwise_num_blocks, stackwise_num_filters, block_type):
    """Checks the per-stage block counts and widths, and the block type.

    Args:
        stackwise_num_blocks: residual blocks per stage.
        stackwise_num_filters: inner width per stage.
        block_type: `"bottleneck"` or `"basic"`.

    Raises:
        ValueError: for an unknown block type, or lists that are not
            positive ints of one length.
    """
    check_block_type(block_type)
    values = list(stackwise_num_blocks) + list(stackwise_num_filters)
    if len(stackwise_num_blocks) != len(stackwise_num_filters) or not all(
        is_positive_int(value) for value in values
    ):
        raise ValueError(
            "`stackwise_num_blocks` and `stackwise_num_filters` must be "
            "lists of positive ints of the same length. Received "
            f"stackwise_num_blocks={stackwise_num_blocks}, "
            f"stackwise_num_filters={stackwise_num_filters}"
        )


def check_head(include_top, pooling, classes):
    """Checks the classifier's and the pooling's arguments.

    Args:
        include_top: whether the model ends in a classifier.
        pooling: `None`, `"avg"` or `"max"`.
        classes: the class count (checked with `include_top` only).

    Raises:
        ValueError: for a `classes` that is not a positive int (with
            `include_top`) or an unknown `pooling`.
    """
    if include_top:
        check_positive_int("classes", classes)
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            "`pooling` must be None, 'avg' or 'max'. "
            f"Received pooling={pooling!r}"
        )


def check_data_format():
    """Refuses a global `channels_first` image data format.

    The models are channels-last only: their projections (the FFT of the
    kernels over height and width), scanned stages and pooling layers
    index the channels last. keras.applications' models follow
    `keras.config.image_data_format()` instead.

    Raises:
        ValueError: naming the data format, when it is not `channels_last`.
    """
    data_format = keras.config.image_data_format()
    if data_format != "channels_last":
        raise ValueError(
            "ProcrustesResNet builds channels-last models only: inputs are "
            "(height, width, channels). Call keras.config.set_image_data_format("
            "'channels_last') before building, and give images channels last. "
            f"Received keras.config.image_data_format()={data_format!r}"
        )


def model_input_shape(input_tensor, input_shape):
    """The `(height, width, channels)` the model takes, and the argument it comes from.

    Args:
        input_tensor: the model's input tensor, or `None`.
        input_shape: the `input_shape` argument.

    Returns:
        `(shape, argument)`: `input_tensor`'s shape without the batch axis
        and `"input_tensor.shape[1:]"` when a tensor is given (its shape is
        the one the model gets), else `input_shape` and `"input_shape"`.

    Raises:
        ValueError: for an `input_tensor` that is not a 4-D tensor.
    """
    if input_tensor is None:
        return input_shape, "input_shape"
    shape = getattr(input_tensor, "shape", None)
    if shape is None or len(shape) != 4:
        raise ValueError(
            "`input_tensor` must be a 4-D tensor (batch, height, width, "
            f"channels). Received input_tensor with shape={shape}"
        )
    sizes = tuple(None if size is None else int(size) for size in shape[1:])
    return sizes, "input_tensor.shape[1:]"


def check_input_shape(input_shape, num_stages, procrustes, argument="input_shape"):
    """Checks that the input fits the stages (and the projections).

    Args:
        input_shape: `(height, width, channels)`.
        num_stages: the stage count; each after the first halves the size.
        procrustes: the Procrustes form, whose projections need a fixed
            height and width (the FFT size; Zaeemzadeh, Rahnavard & Shah,
            TPAMI 2020, arXiv:1805.07477, after Sedghi et al., ICLR 2019).
        argument: the name the messages give the shape (`"input_shape"`,
            or `"input_tensor.shape[1:]"`).

    Raises:
        ValueError: for a shape that is not 3-D, a size or channel count
            that is not a positive int (height and width may be None), an
            unknown height or width in the Procrustes form, or a size under
            `2 ** num_stages`.
    """
    if input_shape is None or len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must be (height, width, channels). "
            f"Received {argument}={input_shape}"
        )
    height, width, channels = input_shape
    sizes = (height, width)
    if not (is_positive_int(channels)
            and all(size is None or is_positive_int(size) for size in sizes)):
        raise ValueError(
            "`input_shape` must be (height, width, channels) of positive ints "
            "(height and width may be None where the form allows). "
            f"Received {argument}={tuple(input_shape)}"
        )
    if procrustes and (height is None or width is None):
        raise ValueError(
            "A ProcrustesResNet needs a fixed input height and width: its "
            "projections run at the layers' input size. "
            f"Received {argument}={tuple(input_shape)}"
        )
    min_size = 2**num_stages
    for size in (height, width):
        if size is not None and size < min_size:
            raise ValueError(
                f"The input is too small for the {num_stages - 1} stride-2 "
                f"stages: height and width must be at least {min_size}. "
                f"Received {argument}={tuple(input_shape)}"
            )


def dtype_policy(dtype):
    """The `DTypePolicy` of `dtype`, or the global one for `None`.

    Args:
        dtype: a dtype policy, its name, or `None`.

    Returns:
        A `keras.DTypePolicy`.

    Raises:
        ValueError: for a dtype that is not a policy, or one the backend
            would silently compute in another dtype (float64 on JAX without
            its 64-bit mode).
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
    if is_int(values) or isinstance(values, float):
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


def preprocessing_statistics(include_preprocessing, channels, mean, std):
    """The per-channel `(means, stds)` of the input `Normalization` layer.

    Args:
        include_preprocessing: whether the model normalises its input.
        channels: the input's channel count.
        mean: per-channel means of the raw pixels, one number, or `None`.
        std: per-channel standard deviations, one number, or `None`; both
            `None` map [0, 255] to [-1, 1].

    Returns:
        Two lists of `channels` floats, or `None` without preprocessing.

    Raises:
        ValueError: for statistics given without `include_preprocessing`,
            of the wrong length, not finite, or a `std` that is not
            positive.
    """
    if not include_preprocessing:
        for arg, value in (("preprocessing_mean", mean), ("preprocessing_std", std)):
            if value is not None:
                raise ValueError(
                    f"`{arg}` is the statistics of the `Normalization` layer of "
                    "`include_preprocessing=True`; with include_preprocessing="
                    f"False there is none. Received {arg}={value!r}"
                )
        return None
    if mean is None and std is None:
        mean, std = DEFAULT_PIXEL_MEAN, DEFAULT_PIXEL_STD
    means = _channel_values("preprocessing_mean", mean, channels)
    stds = _channel_values("preprocessing_std", std, channels)
    if not all(is_finite_number(m) for m in means):
        raise ValueError(
            "`preprocessing_mean` must be finite. "
            f"Received preprocessing_mean={mean!r}"
        )
    if not all(is_positive_number(s) for s in stds):
        raise ValueError(
            "`preprocessing_std` must be finite and positive. "
            f"Received preprocessing_std={std!r}"
        )
    return means, stds
