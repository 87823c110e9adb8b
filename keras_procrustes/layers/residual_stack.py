"""`IdentityResidualStack`: identical residual blocks run as one scan.

A stage of a deep ResNet is `n` identity blocks of the same shape. Unrolled,
the traced graph holds `n` copies of the block, so trace time, compile time
and compile memory grow with depth. The stack holds every weight with a
leading block axis and runs the blocks with `keras.ops.scan` in training
and `keras.ops.fori_loop` at inference (the form that LiteRT and ONNX
runtimes take), so the graph holds one block per stage whatever `n` is.
"""

import keras
from keras import ops

from keras_procrustes.checks import block_output_channels
from keras_procrustes.checks import check_block_type
from keras_procrustes.checks import is_positive_int
from keras_procrustes.layers.conv import conv_same
from keras_procrustes.layers.initializers import independent_initializers
from keras_procrustes.layers.normalization import moving_average
from keras_procrustes.layers.normalization import normalize_with_batch_moments
from keras_procrustes.layers.normalization import normalize_with_moving_moments
from keras_procrustes.layers.residual_block import unit_specs

# The weights of one unit (BN-ReLU-conv) of a block, in this order.
UNIT_WEIGHTS = ("gamma", "beta", "moving_mean", "moving_variance", "kernel")
# The ones a training step reads (batch moments replace the moving ones).
# The moving moments are assigned after the scan, before the backward pass:
# a rematerialised block (torch's checkpoint) that held them would find them
# changed in place.
TRAINING_WEIGHTS = ("gamma", "beta", "kernel")


class _PerBlock:
    """Initialises a `(num_blocks, ...)` weight one block at a time.

    Fan-in and fan-out then come from one block's shape, as in the
    unrolled layers, not from the stacked shape, and every block gets its
    own draw.
    """

    def __init__(self, initializer):
        self.initializer = initializer

    def __call__(self, shape, dtype=None):
        draws = independent_initializers(self.initializer, shape[0])
        return ops.stack([draw(shape[1:], dtype=dtype) for draw in draws])


@keras.saving.register_keras_serializable(package="keras_procrustes")
class IdentityResidualStack(keras.layers.Layer):
    """`num_blocks` identity residual blocks of one shape, as one scan.

    Computes what `num_blocks` chained `IdentityResidualBlock`s compute, with
    the same weights: each weight has a leading block axis, the blocks run
    as one `keras.ops.scan` (at inference, one loop that carries only the
    activations), and in training each block's batch-norm moving
    statistics move toward its own batch moments, exactly as the unrolled
    blocks' do. The traced graph holds one block, so building and compiling
    a 1,000-layer net costs about what a 100-layer one does.

    Args:
        num_blocks: the number of blocks.
        filters: the branch's inner width.
        block_type: `"bottleneck"` (output `4 * filters`) or `"basic"`.
        momentum: batch-norm momentum.
        epsilon: batch-norm epsilon.
        kernel_initializer: initializer of one block's convs.
        remat: recompute each block in the backward pass instead of
            keeping its activations.
        block_prefix: the blocks' names are `f"{block_prefix}{i}"`; default
            `f"{name}_block"`.
        first_block: the number `i` of the first block.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a 4-D tensor with the blocks' output channels.
        training: batch-norm mode.
        probes: optional `(probe_in, probe_out)`, each `(num_blocks,
            *inputs.shape)`: block `i` computes `block(x + probe_in[i]) +
            probe_out[i]` (for `diagnostics.gradient_norm_ratios`).

    Example:
    >>> x = keras.Input((32, 32, 64))
    >>> y = IdentityResidualStack(18, 16)(x)  # 18 bottleneck blocks
    """

    def __init__(
        self,
        num_blocks,
        filters,
        block_type="bottleneck",
        momentum=0.9,
        epsilon=1e-5,
        kernel_initializer="he_normal",
        remat=False,
        block_prefix=None,
        first_block=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for argument, value in (("num_blocks", num_blocks), ("filters", filters),
                                ("first_block", first_block)):
            if not is_positive_int(value):
                raise ValueError(
                    f"`{argument}` must be a positive int. Received {argument}={value}"
                )
        check_block_type(block_type)
        self.num_blocks = num_blocks
        self.filters = filters
        self.block_type = block_type
        self.momentum = momentum
        self.epsilon = epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.remat = bool(remat)
        self.block_prefix = block_prefix
        self.first_block = first_block
        self.output_channels = block_output_channels(filters, block_type)
        self.units = []  # one dict of stacked weights per BN-ReLU-conv unit

    @property
    def block_names(self):
        """The names of the blocks, in order (as the unrolled blocks')."""
        prefix = self.block_prefix or f"{self.name}_block"
        first = self.first_block
        return [f"{prefix}{i}" for i in range(first, first + self.num_blocks)]

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] != self.output_channels:
            raise ValueError(
                f"IdentityResidualStack '{self.name}' has identity skips, so "
                f"its input must have {self.output_channels} channels (its "
                f"output's). Received input_shape={tuple(input_shape)}"
            )
        channels = self.output_channels
        n = self.num_blocks
        specs = unit_specs(self.filters, self.block_type)
        initializers = independent_initializers(self.kernel_initializer, len(specs))
        for index, (width, size, _) in enumerate(specs, start=1):
            unit = {}
            for weight, initializer in (("gamma", "ones"), ("beta", "zeros"),
                                        ("moving_mean", "zeros"),
                                        ("moving_variance", "ones")):
                unit[weight] = self.add_weight(
                    shape=(n, channels),
                    initializer=initializer,
                    trainable=not weight.startswith("moving"),
                    autocast=False,
                    name=f"{index}_bn_{weight}",
                )
            unit["kernel"] = self.add_weight(
                shape=(n, size, size, channels, width),
                initializer=_PerBlock(initializers[index - 1]),
                autocast=False,
                name=f"{index}_conv_kernel",
            )
            self.units.append(unit)
            channels = width

    def block_weights(self):
        """The stacked weights, unit by unit, in `UNIT_WEIGHTS` order.

        Returns:
            A list of variables, each `(num_blocks, ...)`.
        """
        return [unit[weight] for unit in self.units for weight in UNIT_WEIGHTS]

    def _block(self, x, weights, training):
        """One block on `x` with one block's weights: `(x + F(x), moments)`.

        `weights` holds one dict per unit, by weight name: `TRAINING_WEIGHTS`
        in training, `UNIT_WEIGHTS` otherwise.
        """
        moments = []
        y = x
        for unit in weights:
            if training:
                y, mean, variance = normalize_with_batch_moments(
                    y, unit["gamma"], unit["beta"], self.epsilon
                )
                moments += [mean, variance]
            else:
                y = normalize_with_moving_moments(
                    y, unit["gamma"], unit["beta"], unit["moving_mean"],
                    unit["moving_variance"], self.epsilon,
                )
            y = ops.relu(ops.cast(y, self.compute_dtype))
            y = conv_same(y, ops.cast(unit["kernel"], self.compute_dtype))
        return x + y, moments

    def _weights_read(self, training):
        """The weight names a call reads, per unit."""
        return TRAINING_WEIGHTS if training else UNIT_WEIGHTS

    def _block_of_flat_weights(self, training):
        """`block(x, *flat_weights)`: `_block` on one block's flat weights,
        unit by unit in `_weights_read(training)` order."""
        names = self._weights_read(training)

        def block(x, *flat_weights):
            values = iter(flat_weights)
            weights = [
                {name: next(values) for name in names} for _ in self.units
            ]
            return self._block(x, weights, training)

        return block

    def _inference_loop(self, inputs):
        """The blocks at inference: a loop that carries only the activations.

        Each step reads its block's weights at the loop index; the loop has
        no per-step inputs or outputs to stack. TensorFlow lowers it to a
        plain `While` (LiteRT's `WHILE`, tf2onnx's ONNX `Loop`), JAX to a
        scan without `xs` or `ys` (jax2onnx's `Loop`); a scan's stacked
        per-step tensors need TensorFlow's `TensorList` ops, which LiteRT
        runs only through its TensorFlow (Flex) delegate and tf2onnx does
        not convert.
        """
        block = self._block_of_flat_weights(training=False)
        weights = [variable.value for variable in self.block_weights()]

        def step(index, x):
            y, _ = block(x, *[weight[index] for weight in weights])
            return y

        return ops.fori_loop(0, self.num_blocks, step, inputs)

    def call(self, inputs, training=None, probes=None):
        training = bool(training) and self.trainable
        if not training and probes is None:
            return self._inference_loop(inputs)
        block = self._block_of_flat_weights(training)
        if self.remat and training:
            block = keras.remat(block)
        moments_dtype = keras.backend.result_type(self.compute_dtype, "float32")
        # The batch moments travel in the carry: the TensorFlow backend's
        # scan wants per-step outputs shaped like the carry.
        moments = [
            ops.zeros((self.num_blocks, unit["gamma"].shape[-1]), moments_dtype)
            for unit in self.units
            for _ in ("mean", "variance")
        ] if training else []
        weights = [
            unit[name].value
            for unit in self.units
            for name in self._weights_read(training)
        ]
        xs = [ops.arange(self.num_blocks, dtype="int32"), weights]
        if probes is not None:
            xs.append(list(probes))

        def step(carry, step_inputs):
            x, moments = carry
            index, block_weights, *block_probes = step_inputs
            block_probes = block_probes[0] if block_probes else None
            if block_probes is not None:
                x = x + block_probes[0]
            y, block_moments = block(x, *block_weights)
            if block_probes is not None:
                y = y + block_probes[1]
            moments = [
                ops.stop_gradient(ops.slice_update(
                    stack, (index, ops.zeros_like(index)), ops.cast(value, stack.dtype)[None]))
                for stack, value in zip(moments, block_moments)
            ]
            return (y, moments), None

        (outputs, moments), _ = ops.scan(step, (inputs, moments), xs)
        if training:
            self._update_moving_statistics(moments)
        return outputs

    def _update_moving_statistics(self, moments):
        """Moves every block's moving moments toward its batch moments."""
        for index, unit in enumerate(self.units):
            for weight, batch in zip(("moving_mean", "moving_variance"),
                                     moments[2 * index: 2 * index + 2]):
                unit[weight].assign(
                    moving_average(unit[weight], batch, self.momentum)
                )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_blocks": self.num_blocks,
                "filters": self.filters,
                "block_type": self.block_type,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "remat": self.remat,
                "block_prefix": self.block_prefix,
                "first_block": self.first_block,
            }
        )
        return config
