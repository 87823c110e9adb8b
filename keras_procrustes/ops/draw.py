"""When a projection runs: the optimizer's step counter, and the draw that decides each step.

Every replica (MirroredStrategy, a JAX job's processes) computes the same
draw from the step count and a seed, so their weights never drift apart
(the paper projects with probability 0.5 per step).
"""

import keras
from keras import ops

# The draw "project at this step?" is a Weyl sequence over the step count:
# u_t = frac((t + seed) * _WEYL_MULTIPLIER / _WEYL_PERIOD). The multiplier is
# the odd integer nearest to _WEYL_PERIOD / golden ratio, so the sequence
# visits every residue and any window of steps projects close to a fraction
# `probability` of them. Int32 arithmetic cannot overflow at these sizes.
_WEYL_PERIOD = 4096
_WEYL_MULTIPLIER = 2531


def optimizer_iterations():
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
