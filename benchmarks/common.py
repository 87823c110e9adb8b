"""Helpers shared by the benchmarks: timed steps and one process per setting."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def peak_rss_gib():
    """This process's peak resident memory so far, in GiB (Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2.0**20


def _rss_gib(pid):
    """Resident memory of a running process, in GiB (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2.0**20
    except OSError:
        pass
    return 0.0


def run_child(script, arguments, max_rss_gib=None, timeout_s=None, **environment):
    """Runs `script` in a fresh Python process; returns its `report` dict.

    Args:
        script: the path of the benchmark script.
        arguments: its command-line arguments.
        max_rss_gib: kill the child when its resident memory passes this.
        timeout_s: kill the child after this many seconds.
        **environment: variables to set (e.g. `KERAS_BACKEND="jax"`).

    Returns:
        The dict the child reported, or, for a child killed by a limit,
        `{"killed": "why"}`.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **environment)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, script, *arguments], stdout=out,
                                 stderr=err, text=True, env=env)
        start, killed = time.monotonic(), None
        while child.poll() is None:
            time.sleep(0.2)
            if max_rss_gib and _rss_gib(child.pid) > max_rss_gib:
                killed = f"resident memory over {max_rss_gib:g} GiB"
            elif timeout_s and time.monotonic() - start > timeout_s:
                killed = f"still running after {timeout_s:g} s"
            if killed:
                child.kill()
                child.wait()
                return {"killed": killed}
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0 or "RESULT " not in stdout:
        raise RuntimeError(f"{script} {arguments} failed:\n{stderr[-3000:]}")
    return json.loads(stdout.split("RESULT ", 1)[1])


def describe_device():
    """The device the steps run on, in words (JAX device, TF or torch GPU name)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return str(jax.devices()[0])
    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus[0].name if gpus else "CPU"
