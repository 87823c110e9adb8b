"""`NormPreservingTransition`: a conv whose operator is kept norm-preserving."""

import keras

from keras_procrustes.constraints import ProcrustesProjection
from keras_procrustes.constraints import check_layer_options


@keras.saving.register_keras_serializable(package="keras_procrustes")
class NormPreservingTransition(keras.layers.Conv2D):
    """A bias-free conv that changes dimensions, under `ProcrustesProjection`.

    A ProcrustesResNet (Zaeemzadeh, Rahnavard & Shah, TPAMI 2020,
    arXiv:1805.07477) moves every change of width or resolution into such a
    layer: the transitions between stages (1x1, stride 2, the default) and
    the stem (3x3, stride 1). At build time the layer attaches a
    `ProcrustesProjection` whose FFT size is the input's spatial size and
    whose target is `target_scale` times the default target,
    `sqrt(max(filters / input_channels, 1))`.

    Args:
        filters: output channels.
        kernel_size: int or pair; 1 for transitions, 3 for the stem.
        strides: int or pair.
        probability: the chance of projecting at an optimizer step.
        engine: `"svd"` or `"newton_schulz"`.
        iterations: Newton-Schulz iterations.
        target_scale: multiplies the default target
            `sqrt(max(c_out / c_in, 1))` (see `projection.default_target`).
        seed: shifts the sequence of projected steps.
        conjugate_bug: reproduce the authors' flipped projection (for
            reproduction only).
        **kwargs: other `keras.layers.Conv2D` arguments (`padding`,
            `kernel_initializer`, `name`, ...). `use_bias` and
            `kernel_constraint` are set by the layer.

    Raises:
        ValueError: for a projection option `ProcrustesProjection` refuses,
            or (at build) an input of unknown height or width, or smaller
            than the kernel.

    Example:
    >>> x = keras.Input((32, 32, 64))
    >>> y = NormPreservingTransition(128)(x)  # (16, 16, 128)
    """

    def __init__(
        self,
        filters,
        kernel_size=1,
        strides=2,
        probability=0.5,
        engine="svd",
        iterations=10,
        target_scale=1.0,
        seed=0,
        conjugate_bug=False,
        **kwargs,
    ):
        for key in ("use_bias", "kernel_constraint", "bias_constraint"):
            kwargs.pop(key, None)
        kwargs.setdefault("padding", "same")
        kwargs.setdefault("kernel_initializer", "he_normal")
        super().__init__(
            filters, kernel_size, strides=strides, use_bias=False, **kwargs
        )
        self.projection_config = {
            "probability": probability,
            "engine": engine,
            "iterations": iterations,
            "target_scale": target_scale,
            "seed": seed,
            "conjugate_bug": conjugate_bug,
        }
        # Checks the options now, with a stand-in size, so that a bad value
        # fails at construction, not at build.
        ProcrustesProjection((1, 1), **self.projection_config)

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError(
                f"{self.__class__.__name__} '{self.name}' needs a known input "
                "height and width (the FFT size of its projection). "
                f"Received input_shape={tuple(input_shape)}"
            )
        kernel_h, kernel_w = self.kernel_size
        if height < kernel_h or width < kernel_w:
            raise ValueError(
                f"Input of '{self.name}' is {height}x{width}, smaller than "
                f"its {kernel_h}x{kernel_w} kernel. "
                f"Received input_shape={tuple(input_shape)}"
            )
        self.kernel_constraint = ProcrustesProjection(
            (int(height), int(width)), **self.projection_config
        )
        super().build(input_shape)

    @property
    def projection(self):
        """The `ProcrustesProjection` attached at build time."""
        return self.kernel_constraint

    @classmethod
    def from_config(cls, config):
        check_layer_options(config)  # a bad option named first, not after the config
        return super().from_config(config)

    def get_config(self):
        config = super().get_config()
        for key in ("use_bias", "kernel_constraint", "bias_constraint"):
            config.pop(key, None)
        config.update(self.projection_config)
        return config
