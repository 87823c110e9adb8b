"""A model's first `fit`: compiled as `training.recipe.compile_classifier` does, or Keras' default.

    python benchmarks/first_fit.py                    # TensorFlow (KERAS_BACKEND)
    KERAS_BACKEND=jax python benchmarks/first_fit.py --repeats 3

`compile_classifier` makes the optimizer's and the accuracy's variables as
it compiles. Keras' default (`model.compile(..., weighted_metrics=
["accuracy"])`) makes them in the first train step, which TensorFlow then
traces twice. Each form's compile and first fit (one epoch of a few steps,
tracing included) is timed in a fresh process, `--repeats` times, the forms
taking turns; the table gives the medians and their ratio (default /
recipe).

Models: ProcrustesResNet-13 (bottleneck, 8x8x3, 16 images: the size of the
tests' runs) and ProcrustesResNet-58 (28x28x1, 128 images, batch 32: the
quick start's model).
"""

import argparse
import statistics
import sys
import time

import keras
import numpy as np

from common import report
from common import run_child

MODELS = {"procresnet13_bottleneck": ((8, 8, 3), 16, 8), "procresnet58": ((28, 28, 1), 128, 32)}
FORMS = ("keras_default", "recipe")


def child(name, form):
    """Times compiling `name` in `form` and its first fit; reports the seconds."""
    from keras_procrustes import models
    from keras_procrustes.training import recipe

    shape, count, batch = MODELS[name]
    keras.utils.set_random_seed(0)
    model = models.get(name, input_shape=shape, classes=10)
    optimizer = recipe.paper_sgd(0.1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, *shape)).astype("float32")
    start = time.perf_counter()
    if form == "recipe":
        recipe.compile_classifier(model, optimizer)
    else:
        model.compile(optimizer, "sparse_categorical_crossentropy",
                      weighted_metrics=["accuracy"])
    model.fit(x, np.arange(count) % 10, batch_size=batch, epochs=1, verbose=0)
    report({"compile_and_fit_s": time.perf_counter() - start})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "FORM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"backend {keras.backend.backend()}, {args.repeats} processes per form")
    print("| model | compile + first fit, Keras' default (s) "
          "| compile + first fit, recipe (s) | default / recipe |")
    print("|---|---|---|---|")
    for name in args.models:
        seconds = {form: [] for form in FORMS}
        for _ in range(args.repeats):
            for form in FORMS:
                found = run_child(__file__, ["--child", name, form])
                seconds[form].append(found["compile_and_fit_s"])
        default, ours = (statistics.median(seconds[form]) for form in FORMS)
        print(f"| {name} | {default:.2f} | {ours:.2f} | {default / ours:.2f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
