"""What each inference form of `IdentityResidualStack` costs to trace and run.

    KERAS_BACKEND=tensorflow python benchmarks/inference_loop.py
    KERAS_BACKEND=jax python benchmarks/inference_loop.py --model procresnet1003

At inference the stack runs its blocks as a loop that carries only the
activations (`ops.fori_loop`, the weights read at the loop index), the form
that LiteRT and ONNX runtimes take. This compares it, on one scanned preset
and in this one process, with the two other forms it could have:

- `scan`: `ops.scan` over the stacked weights (the training form);
- `loop`: `ops.fori_loop` (what the stack does);
- `unrolled`: a Python loop over the block axis (one graph copy a block).

For each it prints `trace` (TensorFlow: `tf.function` to a concrete
function; JAX: `jax.jit(...).lower`), `compile` (JAX: `.compile()`; TF:
the first call after tracing), and `forward`, the median of `--repeats`
calls on a batch of `--batch-size` random 32x32 images, plus each figure's
ratio to `loop`'s. PyTorch runs eagerly (its `fori_loop` is a Python loop),
so there is nothing to trace there.
"""

import argparse

import keras
import numpy as np
from keras import ops

from common import time_steps
from common import timed
from keras_procrustes import models
from keras_procrustes.layers import IdentityResidualStack


def scan_form(stack, inputs):
    """The blocks as `ops.scan` over the stacked weights."""
    block = stack._block_of_flat_weights(training=False)
    weights = [variable.value for variable in stack.block_weights()]

    def step(x, block_weights):
        return block(x, *block_weights)[0], None

    return ops.scan(step, inputs, weights)[0]


def unrolled_form(stack, inputs):
    """The blocks as a Python loop over the block axis."""
    block = stack._block_of_flat_weights(training=False)
    weights = [variable.value for variable in stack.block_weights()]
    x = inputs
    for index in range(stack.num_blocks):
        x = block(x, *[weight[index] for weight in weights])[0]
    return x


FORMS = {"scan": scan_form, "loop": IdentityResidualStack._inference_loop,
         "unrolled": unrolled_form}


def measure_tensorflow(model, images, repeats):
    import tensorflow as tf

    function = tf.function(lambda x: model(x, training=False))
    spec = tf.TensorSpec((None, *images.shape[1:]), tf.float32)
    trace, concrete = timed(lambda: function.get_concrete_function(spec))
    steps = time_steps(lambda: concrete(tf.constant(images)).numpy(), repeats)
    return trace, steps["first_s"], steps["median_s"]


def measure_jax(model, images, repeats):
    import jax

    def forward(trainable, non_trainable, x):
        return model.stateless_call(trainable, non_trainable, x, training=False)[0]

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    trace, lowered = timed(lambda: jax.jit(forward).lower(trainable, non_trainable, images))
    compile_, compiled = timed(lowered.compile)
    steps = time_steps(lambda: compiled(trainable, non_trainable, images).block_until_ready(),
                       repeats, warmup=0)
    return trace, compile_, steps["median_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="procresnet166")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--forms", nargs="+", default=list(FORMS), choices=list(FORMS))
    args = parser.parse_args()
    backend = keras.backend.backend()
    measure = {"tensorflow": measure_tensorflow, "jax": measure_jax}.get(backend)
    if measure is None:
        raise SystemExit(f"Nothing is traced on the {backend} backend.")
    model = models.get(args.model, scan=True, classifier_activation=None)
    images = np.random.default_rng(0).uniform(
        0, 255, (args.batch_size, 32, 32, 3)).astype("float32")
    figures = {}
    for form in args.forms:
        IdentityResidualStack._inference_loop = FORMS[form]
        figures[form] = measure(model, images, args.repeats)
        print(f"{backend} {args.model} {form:>8}: trace {figures[form][0]:7.2f} s, "
              f"compile {figures[form][1]:7.2f} s, forward {figures[form][2]:7.3f} s",
              flush=True)
    IdentityResidualStack._inference_loop = FORMS["loop"]
    if "loop" in figures:
        for form, values in figures.items():
            ratios = ", ".join(f"{name} x{value / base:.2f}" for name, value, base in
                               zip(("trace", "compile", "forward"), values, figures["loop"]))
            print(f"{form:>8} / loop: {ratios}")


if __name__ == "__main__":
    main()
