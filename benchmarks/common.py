"""Helpers shared by the benchmarks: the one timing loop, and one process per setting."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

RESULT = "RESULT "


def timed(call):
    """Runs `call()` once; returns `(seconds, its result)`."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def _summary(first, times):
    return {
        "first_s": first,
        "median_s": statistics.median(times) if times else None,
        "mean_s": statistics.fmean(times) if times else None,
        "min_s": min(times) if times else None,
        "repeats": len(times),
    }


def time_steps(steps, repeats, warmup=1):
    """Wall times of calls: warm-up calls first, then `repeats` timed ones.

    Every call must return only when its work is done (a host number, a
    `convert_to_numpy`, a synchronised device). Given several calls, they
    take turns, one round of each at a time, so drift in the machine hits
    them all alike.

    Args:
        steps: a function of no arguments, or a dict of name -> function.
        repeats: the timed calls of each.
        warmup: untimed calls of each first; the first one (tracing and
            compiling) is timed on its own as `first_s`.

    Returns:
        A dict: `first_s` (None without warm-up), `median_s`, `mean_s`,
        `min_s` (None without repeats) and `repeats`; for a dict of
        functions, a dict of name -> such a dict.
    """
    named = steps if isinstance(steps, dict) else {None: steps}
    first = {name: None for name in named}
    for index in range(warmup):
        for name, step in named.items():
            seconds = timed(step)[0]
            if index == 0:
                first[name] = seconds
    times = {name: [] for name in named}
    for _ in range(repeats):
        for name, step in named.items():
            times[name].append(timed(step)[0])
    found = {name: _summary(first[name], times[name]) for name in named}
    return found if isinstance(steps, dict) else found[None]


def report(result):
    """Prints a child's result on one line, for `run_child` to read."""
    print(RESULT + json.dumps(result), flush=True)


def results_in(text):
    """The results a child printed with `report`, in order."""
    return [json.loads(line[len(RESULT):]) for line in text.splitlines()
            if line.startswith(RESULT)]


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


def run_process(arguments, timeout_s=None, max_rss_gib=None, **environment):
    """Runs `python arguments...` in a fresh process, stopped at a limit.

    Args:
        arguments: the command line after the interpreter.
        timeout_s: kill the process after this many seconds.
        max_rss_gib: kill the process when its resident memory passes this.
        **environment: variables to set (e.g. `KERAS_BACKEND="jax"`).

    Returns:
        `(exit code, stdout and stderr together, why it was killed or None)`.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1", **environment)
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen([sys.executable, *arguments], stdout=out,
                                 stderr=subprocess.STDOUT, text=True, env=env)
        start, killed = time.monotonic(), None
        while child.poll() is None and not killed:
            time.sleep(0.1)
            if max_rss_gib and _rss_gib(child.pid) > max_rss_gib:
                killed = f"resident memory over {max_rss_gib:g} GiB"
            elif timeout_s and time.monotonic() - start > timeout_s:
                killed = f"still running after {timeout_s:.0f} s"
        if killed:
            child.kill()
            child.wait()
        out.seek(0)
        return child.returncode, out.read(), killed


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

    Raises:
        RuntimeError: the child failed (its output's end in the message).
    """
    code, text, killed = run_process([script, *arguments], timeout_s, max_rss_gib,
                                     **environment)
    if killed:
        return {"killed": killed}
    results = results_in(text)
    if code != 0 or not results:
        raise RuntimeError(f"{script} {arguments} failed:\n{text[-3000:]}")
    return results[0]


def describe_device(backend=None):
    """The device the steps run on, in words.

    Args:
        backend: `"jax"`, `"torch"` or `"tensorflow"`; default Keras' backend.
    """
    if backend is None:
        import keras

        backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.devices()[0].device_kind  # "cpu", or the GPU's name
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus[0].name if gpus else "CPU"
