"""Peak memory and step time with and without rematerialisation.

    python benchmarks/memory.py [--model procresnet166] [--batch-size 32]
    python benchmarks/memory.py --model procresnet1003 --batch-size 128   # on a GPU

Each configuration (remat off, on) runs in its own process, so that peak
figures do not carry over: on a GPU the device's peak bytes in use (JAX's
`memory_stats`, TensorFlow's `get_memory_info`), on a CPU the process's peak
resident memory. Prints the median step time of `--repeats` steps, the peak,
and the remat/plain ratios.
"""

import argparse
import resource

from common import median_step_seconds
from common import report
from common import run_child


def measure(model_name, batch_size, repeats, remat):
    """One configuration, in this process: median step seconds and peak bytes."""
    import keras
    import numpy as np

    from keras_procrustes import models

    model = models.get(model_name, remat=remat)
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, batch_size)
    return {"step_s": median_step_seconds(model, x, y, repeats), **peak_memory()}


def peak_memory():
    """The accelerator's peak bytes in use, else the process's peak RSS."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return {"peak_bytes": device.memory_stats()["peak_bytes_in_use"], "where": str(device)}
    else:
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return {"peak_bytes": tf.config.experimental.get_memory_info("GPU:0")["peak"],
                    "where": "GPU:0"}
    return {"peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "where": "CPU (peak RSS of the process)"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="procresnet166")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=("plain", "remat"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        report(measure(args.model, args.batch_size, args.repeats, args.child == "remat"))
        return
    results = {}
    for mode in ("plain", "remat"):
        results[mode] = r = run_child(__file__, [
            "--model", args.model, "--batch-size", str(args.batch_size),
            "--repeats", str(args.repeats), "--child", mode])
        print(f"{args.model} batch {args.batch_size}, {mode:5s}: {r['step_s'] * 1e3:9.1f} ms/step, "
              f"peak {r['peak_bytes'] / 2**30:6.2f} GiB on {r['where']}", flush=True)
    plain, remat = results["plain"], results["remat"]
    print(f"remat / plain: step time {remat['step_s'] / plain['step_s']:.2f}x, "
          f"peak memory {remat['peak_bytes'] / plain['peak_bytes']:.2f}x")


if __name__ == "__main__":
    main()
