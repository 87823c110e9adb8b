"""Runs each setting in its own process, under a timeout from a shared budget."""

import json
import os
import subprocess
import sys
import tempfile
import time

RESULT = "RESULT "


class Budget:
    """Hands out timeouts whose sum never passes `total_s`.

    Each setting gets its share (`weight / total weight` of the budget) plus
    whatever the settings before it left unused.
    """

    def __init__(self, total_s, weights):
        self.total_s = float(total_s)
        self.start = time.monotonic()
        self.remaining_weight = float(sum(weights))
        self.planned_s = 0.0

    def left_s(self):
        """Seconds of the budget not yet spent."""
        return self.total_s - (time.monotonic() - self.start)

    def timeout_for(self, weight):
        """This setting's timeout: its share of what is left, bank included."""
        left = self.left_s()
        if weight <= 0:
            return max(left, 0.0)
        share = left * weight / self.remaining_weight
        self.remaining_weight -= weight
        return max(share, 0.0)


def _outcome(status, reason, **figures):
    return dict(figures, status=status, reason=reason)


def _read_results(text):
    results = {}
    for line in text.splitlines():
        if line.startswith(RESULT):
            result = json.loads(line[len(RESULT):])
            results[result.pop("id")] = result
    return results


def run_setting(setting, sizes, timeout_s, environment):
    """Runs one setting's child; returns `{measurement id: result}`.

    Every measurement gets a result: the child's figures (`status` "ok", or
    "oom"/"skipped" as the child found), or "timeout"/"error" with a reason
    for those the child never reported.

    Args:
        setting: a dict of `plan.settings`.
        sizes: `plan.GPU` or `plan.DRY_RUN`.
        timeout_s: seconds before the child is killed.
        environment: variables for the child (PYTHONPATH, flags).

    Returns:
        A dict of measurement id -> result dict.
    """
    job = json.dumps({"setting": setting, "sizes": sizes})
    env = dict(os.environ, **environment, KERAS_BACKEND=setting["backend"],
               PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen([sys.executable, "-m", "gpu_suite.child", job],
                                 stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            child.wait(timeout=max(timeout_s, 1.0))
            killed = None
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            killed = f"still running after its timeout of {timeout_s:.0f} s; killed"
        log.seek(0)
        text = log.read()
    elapsed = time.monotonic() - start
    results = _read_results(text)
    for measurement in setting["measurements"]:
        if measurement["id"] in results:
            continue
        if killed:
            results[measurement["id"]] = _outcome("timeout", killed)
        else:
            tail = " | ".join(text.strip().splitlines()[-6:])[-1500:]
            results[measurement["id"]] = _outcome(
                "error", f"exit code {child.returncode}: {tail}")
    for result in results.values():
        result.setdefault("process_s", round(elapsed, 2))
    return results, text


def skip_all(setting, reason):
    """A result per measurement of a setting that did not run."""
    return {m["id"]: _outcome("skipped", reason) for m in setting["measurements"]}


def progress(message):
    """One progress line on stdout, with the time."""
    print(time.strftime("%H:%M:%S ") + message, flush=True)
