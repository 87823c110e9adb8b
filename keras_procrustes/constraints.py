"""`ProcrustesProjection`: the norm-preserving weight constraint."""

import keras
from keras import ops

from keras_procrustes import polar
from keras_procrustes import projection
from keras_procrustes import spectral

# The draw "project at this step?" is a Weyl sequence over the step count:
# u_t = frac((t + seed) * _WEYL_MULTIPLIER / _WEYL_PERIOD). The multiplier is
# the odd integer nearest to _WEYL_PERIOD / golden ratio, so the sequence
# visits every residue and any window of steps projects close to a fraction
# `probability` of them. Int32 arithmetic cannot overflow at these sizes.
_WEYL_PERIOD = 4096
_WEYL_MULTIPLIER = 2531


def _optimizer_iterations():
    """The step counter of the optimizer whose `apply` is running, or None.

    Keras applies constraints inside `optimizer.apply`, which opens a name
    scope with the optimizer as its caller. On JAX the counter read here is
    the traced value of the stateless step.
    """
    from keras.src.backend.common import global_state

    stack = global_state.get_global_attribute("name_scope_stack") or []
    for scope in reversed(stack):
        if isinstance(scope.caller, keras.optimizers.Optimizer):
            return scope.caller.iterations
    return None


def projection_draw(step, seed):
    """The number in [0, 1) that decides whether step `step` projects.

    Args:
        step: the optimizer's step count, an integer scalar tensor.
        seed: an int.

    Returns:
        A float32 scalar tensor; the step projects when it is below the
        probability. Every replica computes the same value.
    """
    step = ops.cast(ops.mod(step, _WEYL_PERIOD), "int32")
    phase = ops.mod((step + seed % _WEYL_PERIOD) * _WEYL_MULTIPLIER, _WEYL_PERIOD)
    return ops.cast(phase, "float32") / _WEYL_PERIOD


@keras.saving.register_keras_serializable(package="keras_procrustes")
class ProcrustesProjection(keras.constraints.Constraint):
    """Projects a conv kernel onto the nearest norm-preserving operator.

    Every per-frequency transfer matrix of the convolution (stride 1,
    circular padding, at the layer's input size) is replaced by `target`
    times its polar factor, so every nonzero singular value of the operator
    becomes `target` (exactly for 1x1 kernels, approximately for larger
    ones; see `projection.project_kernel`).

    Keras calls a constraint inside `optimizer.apply`, after the update. There
    it projects at a step with probability `probability`; the draw is a
    deterministic function of the optimizer's step count and `seed`, so every
    replica under a distribution strategy takes the same decision. Called
    directly, outside an optimizer step, it always projects.

    Args:
        spatial_shape: `(height, width)` of the layer's input, the FFT size.
        target: the singular value to project onto. `None` (default) means
            `target_scale * sqrt(c_out / c_in)`, which keeps the gradient's
            norm in expectation.
        target_scale: multiplies the default target; unused when `target` is
            given.
        probability: the chance of projecting at an optimizer step, in
            [0, 1]. The paper uses 0.5.
        engine: `"svd"` (exact polar factor, default) or `"newton_schulz"`.
        iterations: Newton-Schulz iterations (the authors use 10).
        seed: an int that shifts the sequence of projected steps.
        conjugate_bug: `True` reproduces the authors' code, which returns the
            conjugate of the polar factor (a spatial flip that collapses a
            3x3 kernel onto one tap). For reproduction only.

    Example:
    >>> layer = keras.layers.Conv2D(
    ...     64, 3, padding="same", use_bias=False,
    ...     kernel_constraint=ProcrustesProjection((32, 32)))
    """

    def __init__(
        self,
        spatial_shape,
        target=None,
        target_scale=1.0,
        probability=0.5,
        engine="svd",
        iterations=10,
        seed=0,
        conjugate_bug=False,
    ):
        if isinstance(spatial_shape, int):
            spatial_shape = (spatial_shape, spatial_shape)
        spatial_shape = tuple(spatial_shape)
        if len(spatial_shape) != 2 or not all(
            isinstance(n, int) and n > 0 for n in spatial_shape
        ):
            raise ValueError(
                "`spatial_shape` must be two positive ints (height, width). "
                f"Received spatial_shape={spatial_shape}"
            )
        if not 0.0 <= probability <= 1.0:
            raise ValueError(
                "`probability` must be in [0, 1]. "
                f"Received probability={probability}"
            )
        if engine not in polar.ENGINES:
            raise ValueError(
                f"`engine` must be one of {polar.ENGINES}. "
                f"Received engine={engine!r}"
            )
        if target is not None and target <= 0:
            raise ValueError(
                f"`target` must be positive. Received target={target}"
            )
        if target_scale <= 0:
            raise ValueError(
                "`target_scale` must be positive. "
                f"Received target_scale={target_scale}"
            )
        if not isinstance(iterations, int) or iterations < 1:
            raise ValueError(
                "`iterations` must be a positive int. "
                f"Received iterations={iterations}"
            )
        self.spatial_shape = spatial_shape
        self.target = target
        self.target_scale = target_scale
        self.probability = float(probability)
        self.engine = engine
        self.iterations = iterations
        self.seed = int(seed)
        self.conjugate_bug = bool(conjugate_bug)

    def target_for(self, kernel_shape):
        """The target singular value for a kernel of `kernel_shape`.

        Args:
            kernel_shape: `(kh, kw, c_in, c_out)`.

        Returns:
            A float.
        """
        if self.target is not None:
            return float(self.target)
        return self.target_scale * projection.default_target(kernel_shape)

    def project(self, kernel):
        """Projects `kernel` unconditionally.

        Args:
            kernel: a `(kh, kw, c_in, c_out)` kernel.

        Returns:
            The projected kernel, same shape and dtype.
        """
        kernel_shape = spectral.check_kernel(kernel)
        return projection.project_kernel(
            kernel,
            self.spatial_shape,
            target=self.target_for(kernel_shape),
            engine=self.engine,
            iterations=self.iterations,
            conjugate_bug=self.conjugate_bug,
        )

    def __call__(self, w):
        kernel = ops.convert_to_tensor(w)
        spectral.check_fft_shape(
            self.spatial_shape, spectral.check_kernel(kernel)
        )
        iterations = _optimizer_iterations()
        if iterations is None or self.probability >= 1.0:
            return self.project(kernel)
        if self.probability <= 0.0:
            return kernel
        draw = projection_draw(ops.convert_to_tensor(iterations), self.seed)
        return ops.cond(
            draw < self.probability,
            lambda: self.project(kernel),
            lambda: kernel,
        )

    def get_config(self):
        return {
            "spatial_shape": list(self.spatial_shape),
            "target": self.target,
            "target_scale": self.target_scale,
            "probability": self.probability,
            "engine": self.engine,
            "iterations": self.iterations,
            "seed": self.seed,
            "conjugate_bug": self.conjugate_bug,
        }
