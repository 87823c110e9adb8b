"""Training throughput: TensorFlow, JAX and torch, compiled or not, and mixed precision.

    python benchmarks/throughput.py [--model procresnet58] [--batch-size 64]
    python benchmarks/throughput.py --model procresnet166 --batch-size 128   # on a GPU

Every setting runs in its own process (the backend and the dtype policy are
global). Prints images/second (median step time over `--repeats` steps) and
the ratio to TensorFlow without XLA in float32, and names the fastest.
"""

import argparse

from common import describe_device
from common import report
from common import run_child
from common import time_steps

SETTINGS = [
    # (backend, jit_compile, dtype policy)
    ("tensorflow", False, "float32"),
    ("tensorflow", True, "float32"),
    ("tensorflow", True, "mixed_bfloat16"),
    ("jax", True, "float32"),
    ("jax", True, "mixed_bfloat16"),
    ("torch", False, "float32"),
    ("torch", False, "mixed_bfloat16"),
    ("torch", True, "float32"),  # torch.compile
]
GPU_SETTINGS = [("tensorflow", True, "mixed_float16"), ("jax", True, "mixed_float16"),
                ("torch", False, "mixed_float16")]


def measure(model_name, batch_size, repeats, jit_compile, policy):
    """Images/second of one setting, in this process."""
    import keras
    import numpy as np

    from keras_procrustes import models

    keras.mixed_precision.set_global_policy(policy)
    model = models.get(model_name)
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy",
                  jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, batch_size)
    seconds = time_steps(lambda: model.train_on_batch(x, y), repeats, warmup=2)["median_s"]
    return {"images_per_second": batch_size / seconds, "device": describe_device()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="procresnet58")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gpu", action="store_true", help="add the float16 settings")
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds a setting may take (compiling included)")
    parser.add_argument("--child", nargs=2, metavar=("JIT", "POLICY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        jit, policy = args.child
        report(measure(args.model, args.batch_size, args.repeats, jit == "True", policy))
        return
    settings = [s for s in SETTINGS + (GPU_SETTINGS if args.gpu else []) if s[0] in args.backends]
    results = {}
    for backend, jit, policy in settings:
        result = run_child(__file__, ["--model", args.model, "--batch-size", str(args.batch_size),
                                      "--repeats", str(args.repeats), "--child", str(jit), policy],
                           timeout_s=args.timeout, KERAS_BACKEND=backend)
        label = f"{backend:10s} jit_compile={str(jit):5s} {policy:15s}"
        if "killed" in result:
            print(f"{label} killed: {result['killed']}", flush=True)
            continue
        results[(backend, jit, policy)] = result["images_per_second"]
        print(f"{label} {result['images_per_second']:9.1f} images/s on {result['device']}",
              flush=True)
    reference = results.get(SETTINGS[0])
    if reference:
        for setting, value in results.items():
            print(f"  {' '.join(map(str, setting)):40s} {value / reference:5.2f}x")
    if results:
        best = max(results, key=results.get)
        print(f"fastest: {' '.join(map(str, best))} ({args.model}, batch {args.batch_size})")


if __name__ == "__main__":
    main()
