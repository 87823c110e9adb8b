"""Timed training steps: the first (compilation) apart, then warm-up, then timed."""

import statistics
import time


def time_steps(step, warmup_steps, timed_steps):
    """Times `step()`, which must return only when the step's work is done.

    Args:
        step: a function running one training step, synchronised.
        warmup_steps: untimed steps, the first included (it is timed apart).
        timed_steps: steps timed one by one.

    Returns:
        A dict: `first_step_s`, `step_ms_median`, `step_ms_mean`,
        `step_ms_min`, `timed_steps`.
    """
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    for _ in range(warmup_steps - 1):
        step()
    times = []
    for _ in range(timed_steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {
        "first_step_s": first,
        "step_ms_median": 1e3 * statistics.median(times),
        "step_ms_mean": 1e3 * statistics.fmean(times),
        "step_ms_min": 1e3 * min(times),
        "timed_steps": timed_steps,
    }


def with_rate(timing, batch):
    """Adds `images_per_s` (from the mean step: projection steps vary)."""
    timing["images_per_s"] = batch / (timing["step_ms_mean"] / 1e3)
    return timing
