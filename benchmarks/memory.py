"""Memory and step time of training, with and without rematerialisation.

    python benchmarks/memory.py [--model procresnet166] [--batch-size 32]
    python benchmarks/memory.py --no-steps --model procresnet1003 --batch-size 128

`remat=True` recomputes every residual block in the backward pass instead of
keeping its activations (`keras.remat`). Every setting runs in its own
process and prints, with the ratio remat / plain per backend:

- `step`: the median time of `--repeats` `train_on_batch` steps;
- `TF peak` (TensorFlow): the peak bytes of TensorFlow's allocator over
  those steps, on the GPU or, on a CPU, in its oneDNN pool of large
  tensors;
- `saved` (JAX): the bytes the forward pass keeps for the backward pass
  (the residuals of `jax.vjp` of the loss, shapes only, nothing is run);
- `XLA plan` (JAX, with steps): the buffers XLA allocates for the
  compiled training step (temporaries, weights, optimizer state, batch);
- `GPU peak` (JAX on a GPU): the device's peak bytes in use.

`--no-steps` gives the JAX figure that needs neither a run nor a compile
(`saved`), for models that do not fit in this machine's memory (compiling
ProcrustesResNet-1003 at batch 128 for the CPU took over 24 GB).
"""

import argparse

from common import describe_device
from common import report
from common import run_child
from common import time_steps

GIB = 2.0**30


def build(model_name, remat, scan=None):
    """A compiled model (SGD with momentum), as in `throughput.py`."""
    import keras

    from keras_procrustes import models

    model = models.get(model_name, remat=remat, scan=scan)
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
    return model


def _specs(model, batch_size):
    """Shape/dtype stand-ins of the variables and of one batch (JAX)."""
    import jax

    def specs(variables):
        return [jax.ShapeDtypeStruct(v.shape, v.dtype) for v in variables]

    images = jax.ShapeDtypeStruct((batch_size, *model.input_shape[1:]), "float32")
    labels = jax.ShapeDtypeStruct((batch_size,), "int32")
    return specs, images, labels


def saved_for_backward_bytes(model, batch_size):
    """Bytes the forward pass keeps for the backward pass (JAX, not run).

    Args:
        model: a Keras model (JAX backend).
        batch_size: the batch.

    Returns:
        The total size of the residuals of `jax.vjp` of the training loss
        with respect to the trainable weights (they include references to
        the weights themselves).
    """
    import jax
    import keras

    specs, images, labels = _specs(model, batch_size)

    def residuals(trainable, non_trainable, x, y):
        def loss(weights):
            predictions, _ = model.stateless_call(weights, non_trainable, x, training=True)
            return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, predictions))

        _, backward = jax.vjp(loss, trainable)
        return jax.tree_util.tree_leaves(backward)

    shapes = jax.eval_shape(
        residuals,
        specs(model.trainable_variables),
        specs(model.non_trainable_variables),
        images,
        labels,
    )
    return sum(shape.size * shape.dtype.itemsize for shape in shapes)


def xla_plan_bytes(model, batch_size):
    """XLA's buffer plan for one compiled JAX training step, in bytes.

    Args:
        model: a compiled Keras model (JAX backend).
        batch_size: the batch the step is compiled for.

    Returns:
        `temp + argument + output - alias` bytes of the compiled
        `model.train_step` (donated state aliased, as in `fit`).
    """
    import jax

    specs, images, labels = _specs(model, batch_size)
    model.optimizer.build(model.trainable_variables)
    state = (
        specs(model.trainable_variables),
        specs(model.non_trainable_variables),
        specs(model.optimizer.variables),
        specs(model.metrics_variables),
    )
    step = jax.jit(model.train_step, donate_argnums=0)
    plan = step.lower(state, (images, labels)).compile().memory_analysis()
    return (
        plan.temp_size_in_bytes
        + plan.argument_size_in_bytes
        + plan.output_size_in_bytes
        - plan.alias_size_in_bytes
    )


def peak_bytes():
    """The peak of the training steps so far, and what it measures.

    Returns:
        `(bytes, label)`, or `(None, None)` where this backend and device
        give no peak (JAX on a CPU).
    """
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        device = "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"
        return tf.config.experimental.get_memory_info(device)["peak"], "TF peak"
    import jax

    stats = jax.devices()[0].memory_stats()
    if stats and "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"], "GPU peak"
    return None, None


def measure(model_name, batch_size, repeats, remat, run_steps, scan=None):
    """Figures of one setting, in this process."""
    import keras
    import numpy as np

    model = build(model_name, remat, scan)
    figures = {}
    if keras.backend.backend() == "jax":
        figures["saved"] = saved_for_backward_bytes(model, batch_size) / GIB
    step_seconds = None
    if run_steps:
        if keras.backend.backend() == "jax":
            figures["XLA plan"] = xla_plan_bytes(model, batch_size) / GIB
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch_size, *model.input_shape[1:])).astype("float32")
        y = rng.integers(0, 10, batch_size)
        step_seconds = time_steps(lambda: model.train_on_batch(x, y), repeats,
                                  warmup=2)["median_s"]
        peak, label = peak_bytes()
        if peak is not None:
            figures[label] = peak / GIB
    return {"device": describe_device(), "step_seconds": step_seconds, "gib": figures}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="procresnet166")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-steps", action="store_true",
                        help="only the JAX figure that needs no run (saved)")
    parser.add_argument("--backends", nargs="+", default=None,
                        help="default: tensorflow and jax (jax with --no-steps)")
    parser.add_argument("--unrolled", action="store_true",
                        help="every block its own layer (scan=False; default: the builders')")
    parser.add_argument("--child", choices=("True", "False"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        report(measure(args.model, args.batch_size, args.repeats, args.child == "True",
                       not args.no_steps, scan=False if args.unrolled else None))
        return
    backends = args.backends or (["jax"] if args.no_steps else ["tensorflow", "jax"])
    if args.no_steps and backends != ["jax"]:
        parser.error("--no-steps gives JAX figures only: use --backends jax")
    for backend in backends:
        results = {}
        for remat in (False, True):
            command = ["--model", args.model, "--batch-size", str(args.batch_size),
                       "--repeats", str(args.repeats), "--child", str(remat)]
            results[remat] = run_child(
                __file__, command + (["--no-steps"] if args.no_steps else [])
                + (["--unrolled"] if args.unrolled else []),
                KERAS_BACKEND=backend)
            result = results[remat]
            line = f"{backend:10s} remat={str(remat):5s}"
            if result["step_seconds"] is not None:
                line += f"  step {result['step_seconds']:7.3f} s"
            for label, gib in result["gib"].items():
                line += f"  {label} {gib:6.2f} GiB"
            print(f"{line}  on {result['device']}", flush=True)
        plain, recomputed = results[False], results[True]
        ratios = [f"{label} {gib / plain['gib'][label]:.2f}x"
                  for label, gib in recomputed["gib"].items()]
        if plain["step_seconds"]:
            ratios.insert(0, f"step {recomputed['step_seconds'] / plain['step_seconds']:.2f}x")
        print(f"  {backend} remat / plain ({args.model}, batch {args.batch_size}): "
              + ", ".join(ratios), flush=True)


if __name__ == "__main__":
    main()
