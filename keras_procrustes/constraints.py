"""`ProcrustesProjection`: the norm-preserving weight constraint."""

import inspect

import keras
from keras import ops

from keras_procrustes import checks
from keras_procrustes.ops import polar
from keras_procrustes.ops import projection
from keras_procrustes.ops import spectral
from keras_procrustes.ops.draw import optimizer_iterations
from keras_procrustes.ops.draw import projection_draw


def _check_spatial_shape(spatial_shape):
    """`spatial_shape` as stored: None, a positive int or a tuple of them."""
    if spatial_shape is None:
        return None
    if isinstance(spatial_shape, int):  # a bool too: refused below (checks.is_positive_int)
        sizes, stored = (spatial_shape,), spatial_shape
    elif isinstance(spatial_shape, (tuple, list)):
        sizes = stored = tuple(spatial_shape)
    else:
        sizes = None
    if sizes is None or len(sizes) > 2 or not all(
        checks.is_positive_int(n) for n in sizes
    ):
        raise ValueError(
            "`spatial_shape` must be None or (), (length,), (height, width) "
            "of positive ints, or one positive int. "
            f"Received spatial_shape={spatial_shape!r}"
        )
    return stored


@keras.saving.register_keras_serializable(package="keras_procrustes")
class ProcrustesProjection(keras.constraints.Constraint):
    """Projects a kernel onto the nearest norm-preserving operator.

    Every per-frequency transfer matrix of the convolution (stride 1,
    circular padding, at the layer's input size) is replaced by `target`
    times its polar factor, so every nonzero singular value of the operator
    becomes `target` (exactly for 1x1 kernels, approximately for larger
    ones; see `projection.project_kernel`). It serves `Conv2D`, `Conv1D`
    and `Dense` kernels: a Dense kernel becomes `target` times its polar
    factor (orthonormal rows or columns), exactly; a Conv1D kernel is
    projected per frequency like a Conv2D one. `operator="depthwise"`
    serves `DepthwiseConv2D`/`DepthwiseConv1D` kernels (and a separable
    convolution's depthwise kernel), `operator="transposed"` serves
    `Conv2DTranspose`/`Conv1DTranspose` kernels; their shape alone looks
    like a Conv2D or Conv1D kernel, so a separable convolution's
    `depthwise_kernel`, or the kernel of a depthwise or transposed layer
    under its default name, is refused without the matching `operator`.
    A layer the user named cannot be told from its kernel: pass the
    `operator` yourself.

    Keras calls a constraint inside `optimizer.apply`, after the update. There
    it projects at a step with probability `probability`; the draw is a
    deterministic function of the optimizer's step count and `seed`, so every
    replica under a distribution strategy takes the same decision. Called
    directly, outside an optimizer step, it always projects, and a kernel
    holding NaN or inf raises a ValueError. Inside an optimizer step or a
    traced function (`tf.function`, `jax.jit`) such a kernel is left as it
    is: the non-finite loss that follows reports it (the trainer stops).

    Args:
        spatial_shape: the layer's input size, the FFT size:
            `(height, width)` for Conv2D, `(length,)` for Conv1D, `None`
            (default) or `()` for Dense; one int means that size on every
            spatial axis. `None` also serves 1x1 (and Conv1D `k=1`)
            kernels, whose projection does not depend on it.
        target: the singular value to project onto. `None` (default) means
            `target_scale * sqrt(max(c_out / c_in, 1))`: `sqrt(c_out / c_in)`
            (the paper's) for an expanding layer keeps the gradient's norm in
            expectation; 1 for a contracting layer keeps every gradient's
            norm exactly (see `projection.default_target`).
        target_scale: multiplies the default target; unused when `target` is
            given.
        probability: the chance of projecting at an optimizer step, in
            [0, 1]. The paper uses 0.5.
        engine: `"svd"` (exact polar factor, default) or `"newton_schulz"`.
        iterations: Newton-Schulz iterations (the authors use 10), at most
            `checks.MAX_ITERATIONS` (100).
        seed: an int that shifts the sequence of projected steps.
        conjugate_bug: `True` reproduces the authors' code, which returns the
            conjugate of the polar factor (a spatial flip that collapses a
            3x3 kernel onto one tap). For reproduction only.
        alternations: rounds of project-then-crop per projection, an int
            from 1 to `checks.MAX_ALTERNATIONS` (100); default 1, the
            paper's. A k x k kernel (k > 1) comes closer to the target
            with more rounds (alternating projections), at about
            `alternations` times the cost; 1x1 and Dense kernels are
            exact after one.
        operator: how the kernel acts (see `projection.OPERATORS`):
            `"convolution"` (default; Dense, Conv1D, Conv2D), `"depthwise"`
            (DepthwiseConv1D/2D, SeparableConv's depthwise kernel: each
            channel its own `1 -> multiplier` operator, default target
            `sqrt(multiplier)`) or `"transposed"` (Conv1D/2DTranspose,
            kernel `(..., c_out, c_in)`; stride 1 assumed, as for
            the others).

    Example:
    >>> conv = keras.layers.Conv2D(
    ...     64, 3, padding="same", use_bias=False,
    ...     kernel_constraint=ProcrustesProjection((32, 32)))
    >>> conv1d = keras.layers.Conv1D(
    ...     64, 5, kernel_constraint=ProcrustesProjection((100,)))
    >>> dense = keras.layers.Dense(
    ...     64, kernel_constraint=ProcrustesProjection())
    """

    def __init__(
        self,
        spatial_shape=None,
        target=None,
        target_scale=1.0,
        probability=0.5,
        engine="svd",
        iterations=10,
        seed=0,
        conjugate_bug=False,
        alternations=1,
        operator="convolution",
    ):
        spatial_shape = _check_spatial_shape(spatial_shape)
        if not (checks.is_finite_number(probability) and 0.0 <= probability <= 1.0):
            raise ValueError(
                "`probability` must be a number in [0, 1]. "
                f"Received probability={probability!r}"
            )
        if not checks.is_int(seed):
            raise ValueError(f"`seed` must be an int. Received seed={seed!r}")
        if engine not in polar.ENGINES:
            raise ValueError(
                f"`engine` must be one of {polar.ENGINES}. "
                f"Received engine={engine!r}"
            )
        if target is not None and not checks.is_positive_number(target):
            raise ValueError(
                f"`target` must be a finite positive number. Received target={target!r}"
            )
        if not checks.is_positive_number(target_scale):
            raise ValueError(
                "`target_scale` must be a finite positive number. "
                f"Received target_scale={target_scale!r}"
            )
        checks.check_int_up_to("iterations", iterations, checks.MAX_ITERATIONS)
        checks.check_int_up_to("alternations", alternations, checks.MAX_ALTERNATIONS)
        projection.check_operator(operator)
        self.spatial_shape = spatial_shape
        self.target = target
        self.target_scale = target_scale
        self.probability = float(probability)
        self.engine = engine
        self.iterations = iterations
        self.seed = int(seed)
        self.conjugate_bug = bool(conjugate_bug)
        self.alternations = alternations
        self.operator = operator

    def target_for(self, kernel_shape):
        """The target singular value for a kernel of `kernel_shape`.

        Args:
            kernel_shape: the kernel's shape, `(..., c_in, c_out)`.

        Returns:
            A float.
        """
        if self.target is not None:
            return float(self.target)
        return self.target_scale * projection.default_target(
            kernel_shape, self.operator
        )

    def project(self, kernel):
        """Projects `kernel` unconditionally.

        Args:
            kernel: a kernel of the layer kind `operator` names.

        Returns:
            The projected kernel, same shape and dtype. A concrete kernel
            holding NaN or inf raises a ValueError, and so does a kernel
            variable whose name tells another `operator`.
        """
        kernel = self._checked(kernel)
        projection.check_finite(kernel)
        return self._project(kernel)

    def _checked(self, w):
        """`w` as a tensor, after the checks of its name and shape."""
        projection.check_operator_of(w, self.operator)
        kernel = ops.convert_to_tensor(w)
        spectral.check_fft_shape(
            self.spatial_shape, spectral.check_kernel(kernel)
        )
        return kernel

    def _project(self, kernel):
        return projection.project_kernel(
            kernel,
            self.spatial_shape,
            target=self.target_for(kernel.shape),
            engine=self.engine,
            iterations=self.iterations,
            conjugate_bug=self.conjugate_bug,
            alternations=self.alternations,
            operator=self.operator,
        )

    def __call__(self, w):
        """Projects `w` (or, inside an optimizer step, maybe; see above).

        Args:
            w: the kernel variable or tensor.

        Returns:
            The constrained kernel, same shape and dtype.
        """
        iterations = optimizer_iterations()
        if iterations is None and not projection.is_traced(ops.convert_to_tensor(w)):
            return self.project(w)
        kernel = self._checked(w)
        if iterations is not None and self.probability <= 0.0:
            return kernel
        project_now = ops.all(ops.isfinite(kernel))
        if iterations is not None and self.probability < 1.0:
            draw = projection_draw(ops.convert_to_tensor(iterations), self.seed)
            project_now = ops.logical_and(project_now, draw < self.probability)
        return ops.cond(
            project_now, lambda: self._project(kernel), lambda: kernel
        )

    def get_config(self):
        return {
            "spatial_shape": (
                list(self.spatial_shape)
                if isinstance(self.spatial_shape, tuple)
                else self.spatial_shape
            ),
            "target": self.target,
            "target_scale": self.target_scale,
            "probability": self.probability,
            "engine": self.engine,
            "iterations": self.iterations,
            "seed": self.seed,
            "conjugate_bug": self.conjugate_bug,
            "alternations": self.alternations,
            "operator": self.operator,
        }


def check_layer_options(config):
    """Checks the projection options of a layer's config, as the constraint would.

    Layers that hold a `ProcrustesProjection` call it first in their
    `from_config`: Keras reports an error raised by a layer's constructor
    after the layer's whole config (`Operation.from_config`, Keras 3.15),
    so that a bad value in a `.keras` file would be named only after
    kilobytes of config; raised here, it comes first.

    Args:
        config: a layer's config; the keys that are `ProcrustesProjection`
            arguments (`iterations`, `engine`, `probability`, ...) are checked.

    Raises:
        ValueError: naming the first bad option and its value.
    """
    names = inspect.signature(ProcrustesProjection).parameters
    ProcrustesProjection(**{
        name: value for name, value in config.items()
        if name in names and name != "spatial_shape"
    })
