"""The suite's ratios, its JSON file and its Markdown table."""

import json
import math
import os

from gpu_suite import peaks
from gpu_suite import plan

MODES = ("jax-bf16", "jax-f32", "torch-eager-bf16", "torch-eager-f32",
         "torch-compile-bf16", "torch-compile-f32")


def _figure(results, key, field):
    result = results.get(key, {})
    value = result.get(field) if result.get("status") == "ok" else None
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _ratio(name, numerator, denominator, transform=None):
    if numerator is None or denominator is None or denominator == 0:
        return {"name": name, "value": None, "reason": "a figure it needs is missing"}
    value = numerator / denominator
    return {"name": name, "value": transform(value) if transform else value}


def ratios(results, sizes):
    """Every ratio of the suite, from the measurements' results.

    Args:
        results: measurement id -> result dict.
        sizes: `plan.GPU` or `plan.DRY_RUN`.

    Returns:
        A list of `{"name", "value"}` (value None, with a `reason`, where a
        figure is missing).
    """
    rate = "images_per_s"
    found = []
    for batch in sizes["batches"]:
        for mode in MODES:
            found.append(_ratio(
                f"{mode} b{batch}: ProcrustesResNet-166 / ResNet-164 images/s",
                _figure(results, f"{mode}-{plan.PROC}-b{batch}", rate),
                _figure(results, f"{mode}-{plan.BASE}-b{batch}", rate)))
        found.append(_ratio(
            f"jax-bf16 b{batch}: projection's share of a ProcrustesResNet-166 step at p=0.5",
            _figure(results, f"jax-bf16-{plan.PROC}-b{batch}", rate),
            _figure(results, f"jax-bf16-{plan.PROC}-p0-b{batch}", rate),
            lambda value: 1.0 - value))
        for mode in ("torch-compile-bf16", "jax-bf16"):
            for model in (plan.BASE, plan.PROC):
                found.append(_ratio(
                    f"b{batch}: {mode} {model} / plain PyTorch ResNet-164 images/s",
                    _figure(results, f"{mode}-{model}-b{batch}", rate),
                    _figure(results, f"torch-reference-b{batch}", rate)))
    deep = sizes["deep_batch"]
    deep_id = f"jax-bf16-{plan.DEEP}-b{deep}"
    remat_id = f"jax-bf16-{plan.DEEP}-remat-b{deep}"
    found += [
        _ratio(f"jax-bf16 b{deep}: first step (compile) ProcrustesResNet-1003 / ProcrustesResNet-166",
               _figure(results, deep_id, "first_step_s"),
               _figure(results, f"jax-bf16-{plan.PROC}-b{deep}", "first_step_s")),
        _ratio(f"jax-bf16 b{deep}: ProcrustesResNet-1003 step time, remat / no remat",
               _figure(results, remat_id, "step_ms_mean"),
               _figure(results, deep_id, "step_ms_mean")),
        _ratio(f"jax-bf16 b{deep}: ProcrustesResNet-1003 peak memory, remat / no remat",
               _figure(results, remat_id, "peak_memory_gib"),
               _figure(results, deep_id, "peak_memory_gib")),
    ]
    return found


def add_flops(results):
    """Adds achieved TFLOP/s and the share of the GPU's dense peak to each
    timed result, from the `flops` measurement."""
    counts = results.get("flops", {}).get("train_flops_per_image") or {}
    peak = results.get("flops", {}).get("peak_tflops")
    for key, result in results.items():
        model = result.get("model_name")
        if result.get("status") != "ok" or model not in counts:
            continue
        if "images_per_s" not in result:
            continue
        result["train_flops_per_image"] = counts[model]
        result["tflops"] = counts[model] * result["images_per_s"] / 1e12
        if peak:
            which = peaks.peak_key(result.get("dtype", ""))
            result["peak_used"] = f"dense {which}, {peak[which]} TFLOP/s"
            result["peak_fraction"] = result["tflops"] / peak[which]


def _cell(value, digits):
    if value is None:
        return ""
    if 0 < abs(value) < 10.0 ** -digits * 10:
        return f"{value:.2g}"  # a dry run's tiny figures
    return f"{value:,.{digits}f}"


def markdown(report):
    """The results as Markdown: a header, the timings table, the ratios."""
    meta, results = report["suite"], report["results"]
    flops = results.get("flops", {})
    peak = flops.get("peak_tflops")
    lines = [
        "# GPU suite results", "",
        f"- GPU: {flops.get('gpu', 'unknown')}; dry run: {meta['dry_run']}",
        f"- command: `{meta['command']}`; {meta['elapsed_s']:.0f} s of a "
        f"{meta['budget_s']:.0f} s budget",
        f"- TensorFlow hidden from every child: {meta['tensorflow_hidden']}; "
        f"imported by any: {meta['tensorflow_imported']}",
        "- peaks (dense): " + (
            f"bf16 {peak['bf16']}, tf32 {peak['tf32']}, fp32 {peak['fp32']} TFLOP/s "
            f"({peak['source']}); float32 settings are held against TF32"
            if peak else "none: this GPU is not in the table of peaks"),
        f"- measured here: {_cell(flops.get('matmul_tflops'), 1)} TFLOP/s "
        f"({flops.get('matmul_method', '')})",
        "- flops: FLOPs per training image: " + ", ".join(
            f"{name} {count:,.0f}" for name, count in
            (flops.get("train_flops_per_image") or {}).items())
        + f" ({flops.get('flops_method', flops.get('reason', ''))})",
        "- peak memory: JAX `peak_bytes_in_use`, torch `max_memory_allocated`; "
        "the process's peak host RSS where there is no GPU",
        "",
        "| setting | images/s | step ms (mean) | first step s | peak GiB | TFLOP/s "
        "| of peak | status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = [key for setting in report["plan"] for key in setting["measurements"]]
    for key in order:
        result = results.get(key)
        if result is None or key == "flops" or key.startswith("accuracy"):
            continue
        peak_share = result.get("peak_fraction")
        status = result["status"] + (f": {result['reason']}" if result.get("reason") else "")
        lines.append("| " + " | ".join([
            key, _cell(result.get("images_per_s"), 1), _cell(result.get("step_ms_mean"), 2),
            _cell(result.get("first_step_s"), 2), _cell(result.get("peak_memory_gib"), 3),
            _cell(result.get("tflops"), 2),
            "" if peak_share is None else f"{100 * peak_share:.1f}%",
            status.replace("|", "/")[:200]]) + " |")
    lines += ["", "| ratio | value |", "|---|---|"]
    for ratio in report["ratios"]:
        value = ratio["value"]
        lines.append(f"| {ratio['name']} | "
                     f"{'-- (' + ratio['reason'] + ')' if value is None else f'{value:.3f}'} |")
    accuracy = [(k, r) for k, r in results.items() if k.startswith("accuracy")]
    if accuracy:
        lines += ["", "| accuracy run | test accuracy by form | status |", "|---|---|---|"]
        for key, result in accuracy:
            figures = ", ".join(f"{name} {value:.4f}" for name, value in
                                (result.get("test_accuracy") or {}).items())
            lines.append(f"| {key} | {figures} | {result['status']}"
                         f"{': ' + result['reason'] if result.get('reason') else ''} |")
    return "\n".join(lines) + "\n"


def write(report, out):
    """Writes `gpu_suite.json` and `gpu_suite.md` under `out` (atomically)."""
    for name, text in (("gpu_suite.json", json.dumps(report, indent=1)),
                       ("gpu_suite.md", markdown(report))):
        path = os.path.join(out, name)
        with open(path + ".tmp", "w") as stream:
            stream.write(text)
        os.replace(path + ".tmp", path)
