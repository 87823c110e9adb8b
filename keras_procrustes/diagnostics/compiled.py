"""Measurement functions compiled once per model and kept on it.

A measurement runs the model's graph with the model's variables holding
given values (`keras.StatelessScope`), so on JAX the compiled function takes
them as arguments instead of baking them in as constants, and the next
measurement of the same model (`NormPreservationMonitor`, every epoch) runs
it again without tracing or compiling, as Keras keeps `model.train_function`.
"""

from keras_procrustes.ops import autodiff


def variable_values(model):
    """The current values of `model.variables`, in their order."""
    return [variable.value for variable in model.variables]


def kept_on_model(model, name, key, make):
    """The compiled measurement `name` of `model`, made by `make()` if needed.

    The result is kept on the model, past Keras' attribute tracking (it is a
    cache, not state to save). It is made again when `key` changed, or when
    a layer's `trainable` changed: a traced function would not see it.

    Args:
        model: the measured Keras model.
        name: the measurement's attribute name, unique to it.
        key: what else the traced function depends on (hashable, compared
            with `==`): the loss, the batch-norm mode.
        make: a function of no argument returning `(extra, fn)`; `fn` is
            compiled with `autodiff.compiled`.

    Returns:
        `(extra, compiled_fn)`.
    """
    key = (key, tuple(layer.trainable for layer in model._flatten_layers()))
    kept = model.__dict__.get(name)
    if kept is not None and kept[0] == key:
        return kept[1], kept[2]
    extra, fn = make()
    compiled = autodiff.compiled(fn)
    object.__setattr__(model, name, (key, extra, compiled))
    return extra, compiled
