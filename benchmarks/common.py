"""Helpers shared by the benchmarks: timed steps and one process per setting."""

import json
import os
import statistics
import subprocess
import sys
import time


def median_step_seconds(model, x, y, repeats, warmup=2):
    """Median wall time of `model.train_on_batch(x, y)` after a warm-up.

    Args:
        model: a compiled Keras model.
        x: a batch of inputs.
        y: its targets.
        repeats: timed steps.
        warmup: untimed steps first (tracing, compilation).

    Returns:
        Seconds, a float.
    """
    for _ in range(warmup):
        model.train_on_batch(x, y)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(result):
    """Prints a child's result for `run_child` to read."""
    print("RESULT " + json.dumps(result), flush=True)


def run_child(script, arguments, **environment):
    """Runs `script` in a fresh Python process; returns its `report` dict.

    Args:
        script: the path of the benchmark script.
        arguments: its command-line arguments.
        **environment: variables to set (e.g. `KERAS_BACKEND="jax"`).

    Returns:
        The dict the child reported.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **environment)
    result = subprocess.run([sys.executable, script, *arguments], capture_output=True,
                            text=True, env=env, check=False)
    if result.returncode != 0 or "RESULT " not in result.stdout:
        raise RuntimeError(f"{script} {arguments} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.split("RESULT ", 1)[1])


def describe_device():
    """The device the steps run on, in words (JAX device or TF GPU name)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return str(jax.devices()[0])
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus[0].name if gpus else "CPU"
