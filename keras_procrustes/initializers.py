"""`FourierOrthogonal`: a kernel initializer whose convolution preserves norms.

Keras 3 has an `Orthogonal` initializer for matrices only. Its convolution
counterpart here draws a Gaussian kernel and projects it onto the
norm-preserving operators (`ProcrustesProjection`): every per-frequency
transfer matrix of the stride-1 circular convolution at the layer's input
size becomes `target` times its polar factor (Sedghi, Gupta & Long, ICLR
2019; Zaeemzadeh et al., TPAMI 2020). A 1x1 kernel (and a Dense kernel) is
then exactly `target` times a matrix with orthonormal rows or columns. A k x k
kernel is only approximately norm-preserving, since the crop back to k x k
moves the singular values off `target`: near it when the output has many
more channels than the input (the 3x3 stem, 3 -> 64 at 32x32: 0.84-1.13 of
`target` after one round, 0.96-1.04 after eight `alternations`), far from it
with equal channel counts (16 -> 16 at 32x32: the smallest falls near 0).

It lives beside `constraints` (not in `layers`), as Keras keeps
`keras.initializers` beside `keras.constraints`: it is used with any layer.
"""

import keras

from keras_procrustes.constraints import ProcrustesProjection
from keras_procrustes.constraints import _check_spatial_shape


@keras.saving.register_keras_serializable(package="keras_procrustes")
class FourierOrthogonal(keras.initializers.Initializer):
    """A random kernel projected onto the norm-preserving convolutions.

    Args:
        spatial_shape: the layer's input size, the FFT size: `(height,
            width)` for Conv2D, `(length,)` for Conv1D; `None` (default)
            serves Dense, 1x1 and `k=1` kernels only.
        target: the singular value; `None` (default) means
            `gain * sqrt(max(c_out / c_in, 1))` (see
            `projection.default_target`).
        gain: multiplies the default target; unused when `target` is given.
        alternations: rounds of project-then-crop (a positive int); more
            bring a k x k kernel's singular values closer to `target`.
        seed: an int, or `None`, for the Gaussian draw (as Keras' random
            initializers take it).

    Example:
    >>> conv = keras.layers.Conv2D(
    ...     64, 3, padding="same", use_bias=False,
    ...     kernel_initializer=FourierOrthogonal((32, 32), seed=0))
    """

    def __init__(self, spatial_shape=None, target=None, gain=1.0, alternations=1, seed=None):
        # The projection checks every argument but the seed.
        self._projection = ProcrustesProjection(
            _check_spatial_shape(spatial_shape), target=target, target_scale=gain,
            alternations=alternations)
        self._normal = keras.initializers.RandomNormal(stddev=1.0, seed=seed)
        self.spatial_shape = self._projection.spatial_shape
        self.target = target
        self.gain = gain
        self.alternations = alternations
        self.seed = seed

    def __call__(self, shape, dtype=None):
        """A projected Gaussian kernel of `shape`.

        Args:
            shape: a Dense `(c_in, c_out)`, Conv1D `(k, c_in, c_out)` or
                Conv2D `(kh, kw, c_in, c_out)` kernel shape.
            dtype: the kernel's dtype; default Keras' float type.

        Returns:
            A tensor of `shape`.
        """
        kernel = self._normal(shape, dtype="float32")
        projected = self._projection.project(kernel)
        return keras.ops.cast(projected, dtype or keras.backend.floatx())

    def get_config(self):
        spatial_shape = self.spatial_shape
        return {
            "spatial_shape": list(spatial_shape) if isinstance(spatial_shape, tuple) else spatial_shape,
            "target": self.target,
            "gain": self.gain,
            "alternations": self.alternations,
            "seed": self.seed,
        }
