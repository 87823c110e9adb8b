"""`OrthonormalDense`: a Dense layer whose kernel stays on orthonormal rows."""

import keras

from keras_procrustes.constraints import ProcrustesProjection
from keras_procrustes.constraints import check_layer_options


@keras.saving.register_keras_serializable(package="keras_procrustes")
class OrthonormalDense(keras.layers.Dense):
    """A Dense layer whose weight matrix keeps every singular value at 1.

    The classifier of the first form of Procrustes ResNets (Zaeemzadeh et
    al., arXiv:1805.07477 v1, 2018: "zero-phase whitening of the
    fully-connected layer"). With `W = kernel^T` (`units x input_dim`), the
    authors' Torch code replaced `W` by its polar factor `V U^T`
    (`W^T = U S V^T`) before every forward pass of training: orthonormal
    rows when `units <= input_dim`, no scale; the bias untouched. Here the
    kernel is projected once when the layer is built (the initializer's draw
    replaced by its polar factor) and a
    `ProcrustesProjection(target=1, probability=1)` puts it back after every
    optimizer step, inside `optimizer.apply` (after weight decay). Every
    forward pass then sees the same weights as the authors' (the projection
    of the previous update), and a saved model holds them already projected,
    where the authors' saved weights were one update off the set.

    Args:
        units: output width (the classes).
        engine: `"svd"` (exact polar factor, default) or `"newton_schulz"`.
        iterations: Newton-Schulz iterations.
        probability: the chance of projecting at an optimizer step; 1 (every
            step) is the authors'.
        seed: shifts the sequence of projected steps (`probability < 1`).
        **kwargs: other `keras.layers.Dense` arguments (`activation`,
            `use_bias`, `kernel_initializer`, `name`, ...);
            `kernel_constraint` is set by the layer.

    Example:
    >>> x = keras.Input((256,))
    >>> y = OrthonormalDense(10, activation="softmax")(x)
    """

    def __init__(
        self,
        units,
        engine="svd",
        iterations=10,
        probability=1.0,
        seed=0,
        **kwargs,
    ):
        kwargs.pop("kernel_constraint", None)
        self.projection_config = {
            "engine": engine,
            "iterations": iterations,
            "probability": probability,
            "seed": seed,
        }
        constraint = ProcrustesProjection(target=1.0, **self.projection_config)
        super().__init__(units, kernel_constraint=constraint, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel.assign(self.projection.project(self.kernel))

    @property
    def projection(self):
        """The kernel's `ProcrustesProjection`."""
        return self.kernel_constraint

    @classmethod
    def from_config(cls, config):
        check_layer_options(config)  # a bad option named first, not after the config
        return super().from_config(config)

    def get_config(self):
        config = super().get_config()
        config.pop("kernel_constraint", None)
        config.update(self.projection_config)
        return config
