"""What compiling the diagnostics' graph run buys on JAX: first and later calls.

    KERAS_BACKEND=jax python benchmarks/diagnostics_compile.py
    KERAS_BACKEND=jax python benchmarks/diagnostics_compile.py --repeats 5

`diagnostics.gradient_norm_ratios` and `signal_propagation` run the model's
graph in one function that `ops.autodiff.compiled` compiles on JAX and
keeps on the model. This times both measurements, each in a fresh process,
in two forms:

- `compiled`: the package as it is;
- `op_by_op`: the same function run uncompiled (`compiled` replaced by the
  identity), as JAX runs it op by op, compiling each new primitive on its
  first call.

Models: `keras.applications.ResNet50V2` (32x32x3, 4 images, as
docs/measuring_any_model.md) and ProcrustesResNet-58 (28x28x1, 8 images,
scanned stages, as README). For each it prints the first call (tracing and
compiling included), the median of `--repeats` later calls, and the
op-by-op figure's ratio to the compiled one. On TensorFlow and PyTorch the
two forms are the same function.
"""

import argparse
import os
import sys

import keras
import numpy as np

from common import report
from common import run_child
from common import time_steps

MODELS = ("resnet50v2", "procresnet58")
FORMS = ("compiled", "op_by_op")


def _model_and_batch(name):
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    if name == "resnet50v2":
        model = keras.applications.ResNet50V2(weights=None, input_shape=(32, 32, 3), classes=10)
        x = rng.normal(size=(4, 32, 32, 3)).astype("float32")
    else:
        from keras_procrustes import models

        model = models.resnet56(input_shape=(28, 28, 1))
        x = rng.uniform(0, 255, (8, 28, 28, 1)).astype("float32")
    return model, x, np.arange(len(x)) % 10


def child(name, form, repeats):
    """Times both measurements of `name` in `form`; reports the figures."""
    from keras_procrustes import diagnostics
    from keras_procrustes.ops import autodiff

    if form == "op_by_op":
        autodiff.compiled = lambda fn: fn
    model, x, y = _model_and_batch(name)
    found = time_steps({
        "ratios": lambda: diagnostics.gradient_norm_ratios(model, x, y),
        "signal": lambda: diagnostics.signal_propagation(model, x),
    }, repeats)
    report(found)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "FORM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.repeats)
        return
    print(f"backend {keras.backend.backend()}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    print("| model | measurement | form | first call (s) | later call, median (s) "
          "| first: op_by_op / compiled | later: op_by_op / compiled |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        found = {form: run_child(__file__, ["--child", name, form, "--repeats",
                                            str(args.repeats)]) for form in FORMS}
        for measurement in ("ratios", "signal"):
            fast = found["compiled"][measurement]
            for form in FORMS:
                figures = found[form][measurement]
                ratios = ("| |" if form == "compiled" else
                          f"| {figures['first_s'] / fast['first_s']:.2f} "
                          f"| {figures['median_s'] / fast['median_s']:.2f} |")
                print(f"| {name} | {measurement} | {form} | {figures['first_s']:.2f} "
                      f"| {figures['median_s']:.2f} {ratios}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
