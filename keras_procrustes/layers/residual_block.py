"""Pre-activation residual blocks (He et al., ECCV 2016, arXiv:1603.05027).

`IdentityResidualBlock` is the block of a ProcrustesResNet: `y = x + F(x)`
with an identity skip only (Zaeemzadeh, Rahnavard & Shah, TPAMI 2020,
arXiv:1805.07477). `ConvShortcutResidualBlock` is the baseline's
dimension-changing block, whose shortcut is a strided 1x1 conv (keras and
keras-hub call it `conv_shortcut`).

Both take `remat=True` to recompute their branch in the backward pass
instead of keeping its activations (`keras.remat`): batch norm then
normalises with batch statistics inside the recomputed function and the
moving statistics are updated once, outside it.
"""

import keras
from keras import layers

from keras_procrustes.checks import block_output_channels
from keras_procrustes.checks import check_block_type
from keras_procrustes.checks import check_positive_int
from keras_procrustes.layers.initializers import independent_initializers
from keras_procrustes.layers.normalization import batch_normalize
from keras_procrustes.layers.normalization import update_moving_statistics


def unit_specs(filters, block_type, strides=1):
    """(filters, kernel size, strides) of the convs of a residual branch.

    Args:
        filters: the branch's inner width.
        block_type: `"bottleneck"` or `"basic"`.
        strides: the stride of the 3x3 conv that changes resolution.

    Returns:
        A list of `(filters, kernel_size, strides)`, one per conv.

    Raises:
        ValueError: for an unknown block type.
    """
    output = block_output_channels(filters, block_type)
    if block_type == "bottleneck":
        return [(filters, 1, 1), (filters, 3, strides), (output, 1, 1)]
    return [(filters, 3, strides), (output, 3, 1)]


@keras.saving.register_keras_serializable(package="keras_procrustes")
class IdentityResidualBlock(layers.Layer):
    """Pre-activation residual block with an identity skip: `y = x + F(x)`.

    `F` is BN-ReLU-conv1x1 -> BN-ReLU-conv3x3 -> BN-ReLU-conv1x1 for
    `block_type="bottleneck"`, and BN-ReLU-conv3x3 -> BN-ReLU-conv3x3 for
    `"basic"` (He et al. 2016); the last conv widens the branch to
    `checks.block_output_channels(filters, block_type)` (`checks.EXPANSION`).
    All convs are bias-free. The input must already have the output's
    channels.

    Args:
        filters: the branch's inner width.
        block_type: `"bottleneck"` or `"basic"`.
        momentum: batch-norm momentum.
        epsilon: batch-norm epsilon.
        kernel_initializer: initializer of the convs.
        remat: recompute the branch in the backward pass instead of storing
            its activations (less memory, one more forward per block).
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Raises:
        ValueError: for a `filters` that is not a positive int, an unknown
            `block_type`, or (at build) an input whose channels are not the
            output's.

    Example:
    >>> x = keras.Input((32, 32, 64))
    >>> y = IdentityResidualBlock(16)(x)  # (32, 32, 64)
    """

    strides = 1

    def __init__(
        self,
        filters,
        block_type="bottleneck",
        momentum=0.9,
        epsilon=1e-5,
        kernel_initializer="he_normal",
        remat=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("filters", filters)
        check_block_type(block_type)
        self.filters = filters
        self.block_type = block_type
        self.momentum = momentum
        self.epsilon = epsilon
        self.remat = bool(remat)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.output_channels = block_output_channels(filters, block_type)
        self.norms = []
        self.convs = []
        specs = unit_specs(filters, block_type, self.strides)
        # One more for ConvShortcutResidualBlock's shortcut.
        self.conv_initializers = independent_initializers(
            self.kernel_initializer, len(specs) + 1
        )
        for index, (width, size, strides) in enumerate(specs, start=1):
            self.norms.append(
                layers.BatchNormalization(
                    momentum=momentum,
                    epsilon=epsilon,
                    dtype=self.dtype_policy,
                    name=f"{index}_bn",
                )
            )
            self.convs.append(
                layers.Conv2D(
                    width,
                    size,
                    strides=strides,
                    padding="same",
                    use_bias=False,
                    kernel_initializer=self.conv_initializers[index - 1],
                    dtype=self.dtype_policy,
                    name=f"{index}_conv",
                )
            )

    def _check_input_shape(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] != self.output_channels:
            raise ValueError(
                f"{self.__class__.__name__} '{self.name}' has an identity "
                f"skip, so its input must have {self.output_channels} "
                f"channels (its output's). Received input_shape="
                f"{tuple(input_shape)}"
            )

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        shape = tuple(input_shape)
        for norm, conv in zip(self.norms, self.convs):
            norm.build(shape)
            conv.build(shape)
            shape = conv.compute_output_shape(shape)

    def residual(self, inputs, training=None, normalize=None):
        """The branch `F(x)`, and the pre-activated input of its first unit.

        Args:
            inputs: the block's input.
            training: batch-norm mode.
            normalize: optional `normalize(norm, x)` used in place of
                `norm(x, training=training)`.

        Returns:
            `(F(x), relu(bn(x)))`.
        """
        if normalize is None:

            def normalize(norm, values):
                return norm(values, training=training)

        x = inputs
        preactivated = None
        for norm, conv in zip(self.norms, self.convs):
            x = keras.ops.relu(normalize(norm, x))
            if preactivated is None:
                preactivated = x
            x = conv(x)
        return x, preactivated

    def merge(self, inputs, branch, preactivated):
        """The block's output from its input and branch: `x + F(x)`."""
        return inputs + branch

    def call(self, inputs, training=None):
        if self.remat and training:
            return self._rematerialized_call(inputs)
        branch, preactivated = self.residual(inputs, training=training)
        return self.merge(inputs, branch, preactivated)

    def _rematerialized_call(self, inputs):
        """Training-mode call whose activations are recomputed, not kept."""

        def forward(x):
            moments = []

            def normalize(norm, values):
                if not norm.trainable:
                    return norm(values, training=False)
                outputs, mean, variance = batch_normalize(norm, values)
                moments.append((mean, variance))
                return outputs

            branch, preactivated = self.residual(x, normalize=normalize)
            return self.merge(x, branch, preactivated), moments

        outputs, moments = keras.remat(forward)(inputs)
        trainable_norms = [norm for norm in self.norms if norm.trainable]
        for norm, (mean, variance) in zip(trainable_norms, moments):
            update_moving_statistics(norm, mean, variance)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "block_type": self.block_type,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "remat": self.remat,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_procrustes")
class ConvShortcutResidualBlock(IdentityResidualBlock):
    """Pre-activation block whose shortcut is a strided 1x1 conv.

    The first block of each stage of He et al.'s baseline ResNet: it changes
    the width (to the block's output) and, with `strides=2`, the resolution.
    Shortcut and branch both read the pre-activated input, as in He et al.
    2016. The stride sits on the 3x3 conv. This is not the Procrustes
    projection: the shortcut is a plain trained conv (keras.applications'
    and keras-hub's `conv_shortcut`).

    Args:
        filters: the branch's inner width.
        strides: 1 or 2.
        **kwargs: as `IdentityResidualBlock`.

    Raises:
        ValueError: for `strides` other than 1 or 2, and as
            `IdentityResidualBlock`.

    Example:
    >>> x = keras.Input((32, 32, 16))
    >>> y = ConvShortcutResidualBlock(8, strides=2)(x)  # (16, 16, 32)
    """

    def __init__(self, filters, strides=1, **kwargs):
        if strides not in (1, 2):
            raise ValueError(f"`strides` must be 1 or 2. Received strides={strides}")
        self.strides = strides
        super().__init__(filters, **kwargs)
        self.shortcut = layers.Conv2D(
            self.output_channels,
            1,
            strides=strides,
            use_bias=False,
            kernel_initializer=self.conv_initializers[-1],
            dtype=self.dtype_policy,
            name="0_conv",
        )

    def _check_input_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"'{self.name}' expects a 4-D (batch, height, width, "
                f"channels) input. Received input_shape={tuple(input_shape)}"
            )

    def build(self, input_shape):
        super().build(input_shape)
        self.shortcut.build(tuple(input_shape))

    def merge(self, inputs, branch, preactivated):
        """The block's output: `shortcut(relu(bn(x))) + F(x)`."""
        return self.shortcut(preactivated) + branch

    def compute_output_shape(self, input_shape):
        return self.shortcut.compute_output_shape(tuple(input_shape))

    def get_config(self):
        config = super().get_config()
        config["strides"] = self.strides
        return config
