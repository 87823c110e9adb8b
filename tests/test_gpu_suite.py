"""benchmarks/gpu_suite.sh: its dry run on the CPU, and the parts it computes with.

The dry run starts its own JAX and PyTorch processes, so it runs in the
KERAS_BACKEND=jax pass only; the pure-Python parts run once likewise.
"""

import json
import math
import os
import subprocess
import time

import keras
import numpy as np
import pytest

import gpu_suite  # benchmarks/, on pytest's pythonpath

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "gpu_suite.sh")

ONE_PASS = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="backend-neutral (the suite starts its own JAX and torch "
           "processes): runs in the KERAS_BACKEND=jax pass only")


def _positive_finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@ONE_PASS
@pytest.mark.slow
def test_dry_run_accounts_for_every_setting_without_tensorflow(tmp_path):
    env = dict(os.environ, GPU_SUITE_DRY_RUN="1", OUT=str(tmp_path))
    env.pop("GPU_SUITE_BUDGET_S", None)
    completed = subprocess.run(["bash", SCRIPT], env=env, capture_output=True,
                               text=True, timeout=600, cwd=ROOT)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    check_dry_run_results(tmp_path)


def check_dry_run_results(tmp_path):
    """The checks of a dry run's folder (also usable on a kept folder)."""
    data = json.loads((tmp_path / "gpu_suite.json").read_text())
    table = (tmp_path / "gpu_suite.md").read_text()
    assert data["suite"]["dry_run"]
    assert data["suite"]["tensorflow_imported"] is False
    assert "FLOPs per training image: procresnet166 " in table
    planned = [key for setting in data["plan"] for key in setting["measurements"]]
    assert len(planned) == sum(len(s["measurements"])
                               for s in gpu_suite.settings(gpu_suite.DRY_RUN))
    results = data["results"]
    for key in planned:
        result = results[key]
        assert result["status"] in {"ok", "skipped", "timeout"}, (key, result)
        if result["status"] != "ok":
            assert result["reason"], key
        assert key == "flops" or key in table
    ran = {key: result for key, result in results.items() if result["status"] == "ok"}
    # Each kind of child ran on each backend (a slow machine may time out
    # the deepest model, not everything).
    assert "flops" in ran and "torch-reference-b4" in ran
    counts = ran["flops"]["train_flops_per_image"]
    assert set(counts) == {gpu_suite.PROC, gpu_suite.BASE, gpu_suite.REFERENCE}
    assert all(_positive_finite(counts[name]) for name in counts)
    for key, result in ran.items():
        assert result["tensorflow_imported"] is False, key
        if "images_per_s" in result:
            fields = ["images_per_s", "step_ms_mean", "first_step_s", "peak_memory_gib"]
            if result["model_name"] in counts:
                fields.append("tflops")
            for field in fields:
                assert _positive_finite(result[field]), (key, field, result[field])
    assert {"jax", "torch"} <= {key.split("-")[0] for key in ran if "images_per_s" in ran[key]
                                and key != "torch-reference-b4"}
    for ratio in data["ratios"]:
        assert ratio["value"] is None or math.isfinite(ratio["value"]), ratio


@ONE_PASS
def test_the_script_refuses_without_out():
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    completed = subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True,
                               timeout=30)
    assert completed.returncode == 2
    assert len(completed.stderr.strip().splitlines()) == 1
    assert "OUT" in completed.stderr


@ONE_PASS
def test_flop_count_of_one_convolution_matches_hand_count():
    import jax

    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    kernel = rng.normal(size=(3, 3, 3, 5)).astype("float32")
    dense = rng.normal(size=(5, 7)).astype("float32")

    def forward(x):
        y = jax.lax.conv_general_dilated(x, kernel, (2, 2), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y.mean(axis=(1, 2)) @ dense

    # stride 2: a 4x4 output of 5 channels, each 3*3*3 multiply-adds; then 5x7.
    expected = 2 * 4 * 4 * 5 * 27 + 2 * 5 * 7
    assert gpu_suite.count_macs(jax.make_jaxpr(forward)(image)) == expected

    def scanned(x):
        return jax.lax.scan(lambda h, _: (h @ np.eye(3, dtype="float32"), None), x,
                            None, length=4)[0]

    assert gpu_suite.count_macs(jax.make_jaxpr(scanned)(image)) == 4 * 2 * 8 * 8 * 3 * 3


@ONE_PASS
def test_ratios_and_peaks():
    sizes = dict(gpu_suite.GPU, batches=(128,), deep_batch=128)
    ok = {"status": "ok"}
    results = {
        "jax-bf16-procresnet166-b128": dict(ok, images_per_s=900.0, first_step_s=20.0),
        "jax-bf16-resnet164_baseline-b128": dict(ok, images_per_s=1000.0),
        "jax-bf16-procresnet166-p0-b128": dict(ok, images_per_s=1200.0),
        "torch-reference-b128": dict(ok, images_per_s=2000.0),
        "jax-bf16-procresnet1003-b128": dict(ok, first_step_s=60.0, step_ms_mean=400.0,
                                             peak_memory_gib=40.0),
        "jax-bf16-procresnet1003-remat-b128": {"status": "timeout", "reason": "killed"},
    }
    found = {r["name"]: r["value"] for r in gpu_suite.ratios(results, sizes)}
    assert found["jax-bf16 b128: ProcrustesResNet-166 / ResNet-164 images/s"] == pytest.approx(0.9)
    assert found["jax-bf16 b128: projection's share of a ProcrustesResNet-166 step at p=0.5"] == (
        pytest.approx(0.25))
    assert found["b128: jax-bf16 resnet164_baseline / plain PyTorch ResNet-164 images/s"] == (
        pytest.approx(0.5))
    assert found["jax-bf16 b128: first step (compile) ProcrustesResNet-1003 / ProcrustesResNet-166"] == (
        pytest.approx(3.0))
    assert found["jax-bf16 b128: ProcrustesResNet-1003 peak memory, remat / no remat"] is None
    assert gpu_suite.peak_for("NVIDIA H200")["bf16"] == 989.5
    assert gpu_suite.peak_for("NVIDIA H100 PCIe")["tf32"] == 378.0
    assert gpu_suite.peak_for("NVIDIA H100 80GB HBM3")["matched"] == "H100"
    assert gpu_suite.peak_for("NVIDIA A100-SXM4-80GB") is None


@ONE_PASS
def test_time_steps_times_the_first_call_apart_and_takes_turns():
    from common import time_steps  # benchmarks/common.py, the benchmarks' one timing loop

    calls = []

    def step(name, first_s):
        def call():
            calls.append(name)
            if calls.count(name) == 1:
                time.sleep(first_s)  # the first call compiles
        return call

    found = time_steps({"a": step("a", 0.05), "b": step("b", 0.0)}, repeats=3, warmup=2)
    assert calls == ["a", "b"] * 5  # warm-up and timed calls take turns
    assert found["a"]["first_s"] >= 0.05 > found["a"]["median_s"]
    assert found["a"]["repeats"] == found["b"]["repeats"] == 3
    single = time_steps(step("c", 0.0), repeats=0, warmup=1)
    assert single["median_s"] is None and single["first_s"] is not None
