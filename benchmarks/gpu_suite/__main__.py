"""Runs the GPU suite: `OUT=folder python -m gpu_suite` (see gpu_suite.sh).

Environment:
    OUT: the folder for gpu_suite.json, gpu_suite.md and gpu_suite.log.
    GPU_SUITE_DRY_RUN=1: the same code on the CPU, tiny sizes, one setting
        per code path, in one process per backend (the two side by side).
    GPU_SUITE_BUDGET_S: the measurements' time budget (default 420 s on a
        GPU; the dry run's 240 s cap each of its two processes).
    FASHION_MNIST_DIR: the idx files of the optional accuracy comparison.
"""

import concurrent.futures
import os
import sys
import time

from gpu_suite import plan
from gpu_suite import report
from gpu_suite import runner


def _described(measurement):
    if measurement["kind"] == "keras_step":
        return {"model_name": measurement["model"], "dtype": measurement["dtype"],
                "batch": measurement["batch"]}
    if measurement["kind"] == "torch_reference":
        return {"model_name": "torch_reference", "dtype": plan.BF16,
                "batch": measurement["batch"]}
    return {}


def _progress_line(key, result):
    if result["status"] != "ok":
        return f"  {key}: {result['status']}: {result.get('reason', '')[:160]}"
    if "images_per_s" in result:
        return (f"  {key}: {result['images_per_s']:,.1f} images/s, first step "
                f"{result['first_step_s']:.2f} s, peak {result['peak_memory_gib']:.3f} GiB")
    return f"  {key}: done"


class Suite:
    """The run's state: sizes, results, the log and the files under OUT."""

    def __init__(self, sizes, out, settings):
        self.sizes, self.out, self.start = sizes, out, time.monotonic()
        benchmarks = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.pathsep.join(p for p in (benchmarks, os.environ.get("PYTHONPATH")) if p)
        self.environment = {"PYTHONPATH": path}
        self.log = open(os.path.join(out, "gpu_suite.log"), "w")
        self.data = {
            "suite": {"dry_run": sizes["dry_run"], "budget_s": sizes["budget_s"],
                      "sizes": sizes, "tensorflow_hidden": True,
                      "command": os.environ.get("GPU_SUITE_COMMAND", "python -m gpu_suite")},
            "plan": [{"id": s["id"], "kind": s["kind"], "backend": s["backend"],
                      "measurements": [m["id"] for m in s["measurements"]]}
                     for s in settings],
            "results": {},
        }

    def record(self, setting, found, text=None):
        """Stores a setting's results, logs its output, rewrites the files."""
        if text is not None:
            self.log.write(f"===== {setting['id']}\n{text}\n")
            self.log.flush()
        results = self.data["results"]
        for measurement in setting["measurements"]:
            key = measurement["id"]
            results[key] = dict(_described(measurement), **found[key])
            runner.progress(_progress_line(key, results[key]))
        report.add_flops(results)
        self.data["ratios"] = report.ratios(results, self.sizes)
        meta = self.data["suite"]
        meta["elapsed_s"] = time.monotonic() - self.start
        meta["tensorflow_imported"] = any(r.get("tensorflow_imported")
                                          for r in results.values())
        report.write(self.data, self.out)

    def run_one(self, setting, timeout):
        """Runs a setting under `timeout` seconds; returns (found, output)."""
        runner.progress(f"{setting['id']}: {len(setting['measurements'])} "
                        f"measurements, timeout {timeout:.0f} s")
        if timeout < 5:
            reason = f"its share of what is left of the budget ({timeout:.0f} s) is under 5 s"
            return runner.skip_all(setting, reason), None
        return runner.run_setting(setting, self.sizes, timeout, self.environment)


def run_on_gpu(suite, settings):
    """One process per setting, one after another, under the shared budget."""
    budget = runner.Budget(suite.sizes["budget_s"], [s["weight"] for s in settings])
    stalled = {}  # family -> the setting of it that timed out before any result
    for setting in settings:
        left = budget.left_s()
        if setting.get("family") in stalled:
            budget.timeout_for(setting["weight"])  # its share passes on
            reason = (f"{stalled[setting['family']]} timed out before its first "
                      "result; this one would too, its time went to the next settings")
            suite.record(setting, runner.skip_all(setting, reason))
            continue
        if setting["kind"] == "accuracy" and left < suite.sizes["accuracy_min_s"]:
            reason = (f"only {left:.0f} s of the budget left; the comparison needs "
                      f"{suite.sizes['accuracy_min_s']:.0f} s")
            suite.record(setting, runner.skip_all(setting, reason))
            continue
        found, text = suite.run_one(setting, budget.timeout_for(setting["weight"]))
        if setting.get("family") and all(r["status"] == "timeout" for r in found.values()):
            stalled[setting["family"]] = setting["id"]
        suite.record(setting, found, text)


def dry_run(suite, settings):
    """One process per backend, side by side; the rest recorded as skipped."""
    processes, skipped = plan.dry_run_processes(settings)
    for setting in settings:
        if setting["id"] in skipped:
            suite.record(setting, runner.skip_all(setting, skipped[setting["id"]]))
    with concurrent.futures.ThreadPoolExecutor(len(processes)) as pool:
        futures = {pool.submit(suite.run_one, process, suite.sizes["budget_s"]): process
                   for process in processes}
        for future in concurrent.futures.as_completed(futures):
            suite.record(futures[future], *future.result())


def main():
    out = os.environ.get("OUT")
    if not out:
        sys.exit("gpu_suite: set OUT to the folder for the results (OUT=folder)")
    os.makedirs(out, exist_ok=True)
    is_dry_run = os.environ.get("GPU_SUITE_DRY_RUN") == "1"
    sizes = dict(plan.DRY_RUN if is_dry_run else plan.GPU)
    if os.environ.get("GPU_SUITE_BUDGET_S"):
        sizes["budget_s"] = float(os.environ["GPU_SUITE_BUDGET_S"])
    settings = plan.settings(sizes)
    suite = Suite(sizes, out, settings)
    runner.progress(f"gpu suite: {len(settings)} settings, budget {sizes['budget_s']:.0f} s, "
                    f"dry run {is_dry_run}, results in {out}")
    (dry_run if is_dry_run else run_on_gpu)(suite, settings)
    runner.progress(f"done in {time.monotonic() - suite.start:.0f} s: "
                    f"{os.path.join(out, 'gpu_suite.md')}")


if __name__ == "__main__":
    main()
