"""What depth costs: first step, steady step and peak memory, scanned vs unrolled.

    python benchmarks/depth.py                       # first step, batch 8
    python benchmarks/depth.py --models procresnet166 --batch-size 128 --repeats 5
    python benchmarks/depth.py --models procresnet1003 --batch-size 128 --remat \\
        --backends tensorflow --repeats 2

For every backend, model and form (`scan=True`: each stage one
`IdentityResidualStack`; `scan=False`: unrolled blocks), a fresh process
builds the model (`models.get(name, scan=...)`), compiles it with SGD and
momentum and runs `train_on_batch` on random images. It prints:

- `first`: the first step, trace/compile included;
- `steady`: the median of `--repeats` later steps (with `--repeats` > 0);
- `peak RSS`: the process's peak resident memory (Python, the framework
  and the step together), in GiB.

A process whose memory passes `--max-rss-gib` or that runs past
`--timeout-s` is killed and reported as such. The ratios compare figures of
this one run: scanned / unrolled per model, and each depth to the first
model's.
"""

import argparse

from common import peak_rss_gib
from common import report
from common import run_child
from common import time_steps


def measure(model_name, batch_size, repeats, scan, remat):
    """First-step and steady-step seconds and peak RSS, in this process."""
    import keras
    import numpy as np

    from keras_procrustes import models

    model = models.get(model_name, scan=scan, remat=remat)
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, *model.input_shape[1:])).astype("float32")
    y = rng.integers(0, 10, batch_size)
    steps = time_steps(lambda: model.train_on_batch(x, y), repeats, warmup=1)
    return {"first": steps["first_s"], "steady": steps["median_s"], "rss": peak_rss_gib()}


def describe(result):
    """One setting's figures in words."""
    if "killed" in result:
        return f"killed: {result['killed']}"
    line = f"first {result['first']:7.1f} s"
    if result["steady"] is not None:
        line += f"  steady {result['steady']:7.3f} s"
    return line + f"  peak RSS {result['rss']:5.2f} GiB"


def ratio(numerator, denominator, key):
    """`numerator[key] / denominator[key]`, or None when either is missing."""
    try:
        return numerator[key] / denominator[key]
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def print_ratios(backend, results, names):
    """Scanned / unrolled per model and each model / the first, per key."""
    for key in ("first", "steady", "rss"):
        parts = []
        for name in names:
            value = ratio(results[name, True], results[name, False], key)
            if value is not None:
                parts.append(f"{name} {value:.2f}x")
        if parts:
            print(f"  {backend} scanned / unrolled, {key}: " + ", ".join(parts))
        for scan in (True, False):
            parts = [f"{name} {value:.2f}x" for name in names[1:]
                     if (value := ratio(results[name, scan], results[names[0], scan], key))]
            if parts:
                form = "scanned" if scan else "unrolled"
                print(f"  {backend} {form}, {key} / {names[0]}'s: " + ", ".join(parts))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="procresnet58,procresnet166,procresnet1003",
                        help="comma-separated model names")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=0, help="steady steps to time")
    parser.add_argument("--remat", action="store_true")
    parser.add_argument("--forms", default="scan,unrolled")
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--max-rss-gib", type=float, default=16.0)
    parser.add_argument("--timeout-s", type=float, default=900.0)
    parser.add_argument("--child", choices=("True", "False"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.models.split(",")
    if args.child:
        report(measure(names[0], args.batch_size, args.repeats, args.child == "True",
                       args.remat))
        return
    forms = [form == "scan" for form in args.forms.split(",")]
    for backend in args.backends:
        results = {}
        for name in names:
            for scan in forms:
                command = ["--models", name, "--batch-size", str(args.batch_size),
                           "--repeats", str(args.repeats), "--child", str(scan)]
                results[name, scan] = run_child(
                    __file__, command + (["--remat"] if args.remat else []),
                    max_rss_gib=args.max_rss_gib, timeout_s=args.timeout_s,
                    KERAS_BACKEND=backend)
                form = "scanned " if scan else "unrolled"
                print(f"{backend:10s} {name:15s} {form} batch {args.batch_size}"
                      f"{' remat' if args.remat else ''}: {describe(results[name, scan])}",
                      flush=True)
        if len(forms) == 2:
            print_ratios(backend, results, names)


if __name__ == "__main__":
    main()
