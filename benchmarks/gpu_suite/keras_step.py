"""Images/s, first-step time and peak memory of a Keras model's training step.

The model is `keras_procrustes.models.get(name)` (the dry run: the same
builder, `models.ProcrustesResNet`, with a few blocks per stage), trained
with `train_on_batch` on a batch of random pixels already on the device.
"""

import numpy as np

from gpu_suite import memory
from gpu_suite import plan
from gpu_suite import timing


def build(name, sizes, dtype="float32", probability=0.5, remat=False):
    """The model `name` at the suite's image size.

    Args:
        name: a preset name (`"procresnet166"`, `"resnet164_baseline"`,
            `"procresnet1003"`).
        sizes: `plan.GPU` or `plan.DRY_RUN`.
        dtype: the dtype policy.
        probability: the projection's probability (Procrustes forms).
        remat: recompute blocks in the backward pass.

    Returns:
        An uncompiled `keras.Model`.
    """
    from keras_procrustes import models

    size = sizes["image_size"]
    procrustes = not name.endswith("_baseline")
    kwargs = {"input_shape": (size, size, 3), "dtype": dtype, "remat": remat}
    if procrustes:
        kwargs["projection_probability"] = probability
    if sizes["dry_run"]:
        blocks = [plan.DRY_RUN_BLOCKS[name]] * 3
        return models.ProcrustesResNet(blocks, list(plan.DRY_RUN_WIDTHS),
                                       block_type="bottleneck",
                                       procrustes=procrustes, **kwargs)
    return models.get(name, **kwargs)


def optimizer():
    """The paper's SGD (momentum 0.9, weight decay 1e-4), Keras' where the
    training side cannot load (it may need TensorFlow).

    Returns:
        `(optimizer, description)`.
    """
    import keras

    try:
        from keras_procrustes.training import paper_sgd
    except ImportError:
        sgd = keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=1e-4)
        return sgd, "keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=1e-4)"
    return paper_sgd(0.1), "keras_procrustes.training.paper_sgd(0.1)"


def _batch(batch, size):
    import keras

    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 255.0, (batch, size, size, 3)).astype("float32")
    y = rng.integers(0, 10, batch).astype("int32")
    return keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)


_MODELS = {}


def _compiled_model(measurement, sizes):
    """One model per configuration in this process (batches share it)."""
    key = (measurement["model"], measurement["dtype"], measurement["probability"],
           measurement["remat"], measurement["jit"])
    if key not in _MODELS:
        model = build(measurement["model"], sizes, measurement["dtype"],
                      measurement["probability"], measurement["remat"])
        sgd, described = optimizer()
        model.compile(optimizer=sgd, loss="sparse_categorical_crossentropy",
                      jit_compile=measurement["jit"])
        _MODELS[key] = model, described
    return _MODELS[key]


def measure(measurement, sizes):
    """Times one training-step configuration.

    Args:
        measurement: a measurement of `plan.settings` (model, dtype, jit,
            probability, remat, batch).
        sizes: `plan.GPU` or `plan.DRY_RUN`.

    Returns:
        A dict of figures: images/s, step times, first step, peak memory.
    """
    import keras

    backend = keras.backend.backend()
    model, described = _compiled_model(measurement, sizes)
    x, y = _batch(measurement["batch"], sizes["image_size"])
    memory.reset_peak(backend)

    def step():
        loss = model.train_on_batch(x, y)  # returns a host float: synchronised
        if not np.isfinite(loss):
            raise FloatingPointError(f"non-finite loss {loss}")

    result = timing.time_steps(step, sizes["warmup_steps"], sizes["timed_steps"])
    timing.with_rate(result, measurement["batch"])
    result["peak_memory_gib"], result["memory_source"] = memory.peak_gib(backend)
    result["device"] = memory.device_name(backend)
    result["parameters"] = int(model.count_params())
    result["optimizer"] = described
    result["compiled"] = "XLA (jax.jit)" if backend == "jax" else (
        "torch.compile" if measurement["jit"] else "eager")
    return result
