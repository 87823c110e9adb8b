"""Gradients with respect to tensors, on the active Keras backend.

`keras.ops` has no gradient op, so this is the one place where the core
dispatches to the backend's own autodiff (TensorFlow's `GradientTape`, JAX's
`value_and_grad`, PyTorch's `autograd`). Everything around it stays
`keras.ops`.
"""

import keras


def value_and_gradients(fn, tensors):
    """`fn(tensors)` and its gradient with respect to each tensor.

    Args:
        fn: a function of a list of tensors returning a scalar tensor. It must
            not change Keras variables (run it under `keras.StatelessScope`).
        tensors: a list of backend tensors.

    Returns:
        `(value, gradients)`, gradients a list matching `tensors`.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(tensors)
            value = fn(tensors)
        return value, tape.gradient(value, tensors)
    if backend == "jax":
        import jax

        return jax.value_and_grad(fn)(tensors)
    if backend == "torch":
        import torch

        tensors = [t.detach().requires_grad_(True) for t in tensors]
        value = fn(tensors)
        # A tensor the value does not depend on gets zeros, as on JAX.
        gradients = torch.autograd.grad(
            value, tensors, allow_unused=True, materialize_grads=True)
        return value.detach(), list(gradients)
    raise NotImplementedError(
        f"Gradients are implemented for tensorflow, jax and torch; the "
        f"backend is {backend!r}."
    )


def compiled(fn):
    """`fn` compiled where running it op by op is slow: `jax.jit` on JAX.

    JAX runs an uncompiled function one primitive at a time and compiles each
    new primitive on its first call, so a gradient through a whole model
    spends most of its first call compiling hundreds of small programs; one
    `jax.jit` compiles it as one. TensorFlow and PyTorch run `fn` as it is
    (eagerly), which is fast there. A compiled function does not see a
    change to the Python state it read when traced (a layer's `trainable`):
    a caller that keeps one must make a new one then.

    Args:
        fn: a function of tensors (and structures of them) returning
            tensors. It must not change Keras variables.

    Returns:
        A function with the signature of `fn`.
    """
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    return fn


def apply_and_transpose(linear_fn):
    """`v -> (A v, A^T A v)` for a linear function `A`, compiled where possible.

    `A^T` is the vector-Jacobian product of `linear_fn` at `v` with the
    cotangent `A v`. On TensorFlow the pair is one `tf.function`, on JAX one
    `jax.jit`, so a power iteration does not dispatch op by op; PyTorch runs
    eagerly.

    Args:
        linear_fn: a linear function of one tensor. It must not change
            Keras variables.

    Returns:
        A function of a tensor `v` returning the pair `(A v, A^T A v)`.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def pair(vector):
            with tf.GradientTape() as tape:
                tape.watch(vector)
                image = linear_fn(vector)
            return image, tape.gradient(image, vector, output_gradients=image)

        return pair
    if backend == "jax":
        import jax

        def pair(vector):
            image, pullback = jax.vjp(linear_fn, vector)
            return image, pullback(image)[0]

        return jax.jit(pair)
    if backend == "torch":
        import torch

        def pair(vector):
            vector = vector.detach().requires_grad_(True)
            image = linear_fn(vector)
            (back,) = torch.autograd.grad(image, vector, image.detach())
            return image.detach(), back

        return pair
    raise NotImplementedError(
        f"Gradients are implemented for tensorflow, jax and torch; the "
        f"backend is {backend!r}."
    )
