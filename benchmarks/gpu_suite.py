"""The GPU suite: speed, memory and FLOP/s of Procrustes ResNets in one run.

    OUT=results bash benchmarks/gpu_suite.sh                        # on a GPU
    GPU_SUITE_DRY_RUN=1 OUT=/tmp/suite bash benchmarks/gpu_suite.sh  # CPU, tiny

Each setting runs in its own process (`gpu_suite.py --child JOB`) under a
timeout from a shared budget (`GPU_SUITE_BUDGET_S`, 420 s); the child
prints each measurement as soon as it has it. After each setting `OUT`
holds gpu_suite.json, gpu_suite.md and gpu_suite.log. The dry run
(`GPU_SUITE_DRY_RUN=1`) runs the same code on the CPU at tiny sizes, one
setting per code path. docs/gpu_suite.md says what is measured and how.
"""

import concurrent.futures
import json
import math
import os
import sys
import time
import traceback

from common import describe_device
from common import peak_rss_gib
from common import report
from common import results_in
from common import run_process
from common import time_steps

GPU = {"dry_run": False, "budget_s": 420.0, "batches": (128, 512), "deep_batch": 128,
       "image_size": 32, "warmup": 2, "repeats": 6}
DRY_RUN = {"dry_run": True, "budget_s": 240.0, "batches": (4,), "deep_batch": 4,
           "image_size": 8, "warmup": 1, "repeats": 2}
# The dry run's stand-ins: blocks per stage, and the stages' inner widths
# (the presets' are 16, 32, 64).
DRY_RUN_BLOCKS = {"procresnet166": 1, "resnet164_baseline": 1, "procresnet1003": 2}
DRY_RUN_WIDTHS = (4, 8, 16)
PROC, BASE, DEEP = "procresnet166", "resnet164_baseline", "procresnet1003"
BF16, F32 = "mixed_bfloat16", "float32"
REFERENCE = "torch_reference"
# Dense TFLOP/s by a fragment of torch.cuda.get_device_name, most specific
# first: NVIDIA's datasheet figures, halved where given "with sparsity".
H100 = "NVIDIA H100 datasheet, https://www.nvidia.com/en-us/data-center/h100/"
H200 = "NVIDIA H200 datasheet, https://www.nvidia.com/en-us/data-center/h200/"
PEAKS = (
    ("H200 NVL", {"bf16": 835.5, "tf32": 417.5, "fp32": 60.0, "source": H200}),
    ("H200", {"bf16": 989.5, "tf32": 494.5, "fp32": 67.0, "source": H200}),
    ("H100 NVL", {"bf16": 835.5, "tf32": 417.5, "fp32": 60.0, "source": H100}),
    ("H100 PCIe", {"bf16": 756.5, "tf32": 378.0, "fp32": 51.0, "source": H100}),
    ("H100", {"bf16": 989.5, "tf32": 494.5, "fp32": 67.0, "source": H100}),
)


# The plan ----------------------------------------------------------------

def _keras_setting(backend, model, dtype, batches, weight, jit=True, probability=0.5,
                   remat=False):
    mode = backend if backend == "jax" else ("torch-compile" if jit else "torch-eager")
    parts = [mode, "bf16" if dtype == BF16 else "f32", model]
    parts += [f"p{probability:g}"] * (probability != 0.5) + ["remat"] * remat
    name = "-".join(parts)
    config = {"kind": "keras_step", "model": model, "dtype": dtype, "jit": jit,
              "probability": probability, "remat": remat}
    return {"id": name, "backend": backend, "weight": weight,
            "measurements": [dict(config, id=f"{name}-b{b}", batch=b) for b in batches]}


def settings(sizes):
    """The suite's settings, most wanted first.

    Args:
        sizes: `GPU` or `DRY_RUN`.

    Returns:
        A list of dicts: `id`, `backend` (the child's `KERAS_BACKEND`),
        `weight` (its share of the budget) and `measurements` (each with an
        `id` and a `kind`).
    """
    batches, deep = sizes["batches"], (sizes["deep_batch"],)
    reference = [{"id": f"torch-reference-b{b}", "kind": REFERENCE, "batch": b}
                 for b in batches]
    return [
        {"id": "flops", "backend": "jax", "weight": 10,
         "measurements": [{"id": "flops", "kind": "flops"}]},
        _keras_setting("jax", PROC, BF16, batches, 9),
        _keras_setting("jax", BASE, BF16, batches, 8),
        _keras_setting("jax", PROC, BF16, batches, 8, probability=0.0),
        # Inductor compiles ResNet-164's forward and backward: a large share.
        {"id": "torch-reference", "backend": "torch", "weight": 16,
         "measurements": reference},
        _keras_setting("jax", PROC, F32, batches, 7),
        _keras_setting("jax", BASE, F32, batches, 6),
        _keras_setting("jax", DEEP, BF16, deep, 12),
        _keras_setting("jax", DEEP, BF16, deep, 12, remat=True),
    ] + [_keras_setting("torch", model, dtype, batches, 4 + 2 * jit, jit=jit)
         for jit in (False, True) for dtype in (BF16, F32) for model in (PROC, BASE)]


def dry_run_cover(setting_id):
    """The dry run's setting that runs the code of `setting_id`, or None.

    On 2 CPU cores each XLA or Dynamo compilation takes tens of seconds, so
    the dry run runs one setting per code path. Dynamo's tracing of a Keras
    train step (`torch-compile-*`) takes minutes there: none covers it.
    """
    if setting_id.startswith("torch-compile"):
        return None
    if setting_id.startswith("torch-eager"):
        return "torch-eager-f32-procresnet166"
    for model, cover in ((DEEP, "jax-bf16-procresnet1003-remat"),
                         (BASE, "jax-f32-resnet164_baseline"),
                         (PROC, "jax-bf16-procresnet166")):
        if model in setting_id:
            return cover
    return setting_id


# The children's measurements ----------------------------------------------

def build(name, sizes, dtype=F32, probability=0.5, remat=False):
    """The Keras model `name` (a preset; the dry run's stand-in) at the suite's size."""
    from keras_procrustes import models

    procrustes = not name.endswith("_baseline")
    kwargs = {"input_shape": (sizes["image_size"],) * 2 + (3,), "dtype": dtype,
              "remat": remat}
    if procrustes:
        kwargs["projection_probability"] = probability
    if sizes["dry_run"]:
        return models.ProcrustesResNet([DRY_RUN_BLOCKS[name]] * 3, list(DRY_RUN_WIDTHS),
                                       block_type="bottleneck", procrustes=procrustes,
                                       **kwargs)
    return models.get(name, **kwargs)


def _timed_result(step, sizes, batch, backend):
    """Times `step`; adds images/s (from the mean step: steps that project
    take longer), the peak memory and the device."""
    if backend == "torch":
        import torch

        if torch.cuda.is_available():  # JAX's peak cannot be reset
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
    steps = time_steps(step, sizes["repeats"], sizes["warmup"])
    return {"first_step_s": steps["first_s"], "step_ms_mean": 1e3 * steps["mean_s"],
            "step_ms_median": 1e3 * steps["median_s"], "images_per_s": batch / steps["mean_s"],
            "device": describe_device(backend), **_peak_memory(backend)}


def _peak_memory(backend):
    """JAX's peak over the process (so smaller batches go first), torch's
    since the reset, or with no GPU the process's peak host RSS."""
    if backend == "jax":
        import jax

        peak = (jax.local_devices()[0].memory_stats() or {}).get("peak_bytes_in_use")
        if peak:
            return {"peak_memory_gib": peak / 2.0**30, "memory_source": "peak_bytes_in_use"}
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return {"peak_memory_gib": torch.cuda.max_memory_allocated() / 2.0**30,
                    "memory_source": "torch.cuda.max_memory_allocated"}
    return {"peak_memory_gib": peak_rss_gib(), "memory_source": "host peak RSS"}


_CACHE = {}  # one model per configuration in a child (its batches share it)


def measure_keras_step(measurement, sizes):
    """Times `train_on_batch` of one configuration at one batch size.

    Random pixels already on the device; `train_on_batch` returns the loss
    as a host number, so each step ends when the device is done. The
    optimizer is the paper's SGD as `training.paper_sgd(0.1)` builds it.
    """
    import keras
    import numpy as np

    key = tuple(measurement[k] for k in ("model", "dtype", "probability", "remat", "jit"))
    if key not in _CACHE:
        model = build(key[0], sizes, *key[1:4])
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=1e-3),
                      "sparse_categorical_crossentropy", jit_compile=measurement["jit"])
        _CACHE[key] = model
    model, batch, backend = _CACHE[key], measurement["batch"], keras.backend.backend()
    rng = np.random.default_rng(0)
    size = sizes["image_size"]
    x = keras.ops.convert_to_tensor(rng.uniform(0, 255, (batch, size, size, 3)), "float32")
    y = keras.ops.convert_to_tensor(rng.integers(0, 10, batch), "int32")

    def step():
        if not np.isfinite(model.train_on_batch(x, y)):
            raise FloatingPointError("non-finite loss")

    compiled = {"jax": "XLA (jax.jit)"}.get(
        backend, "torch.compile" if measurement["jit"] else "eager")
    return dict(_timed_result(step, sizes, batch, backend), model_name=key[0], dtype=key[1],
                batch=batch, parameters=int(model.count_params()), compiled=compiled)


def torch_reference(sizes):
    """He et al.'s pre-activation ResNet-164 (Identity Mappings, 2016) in plain
    PyTorch, as a PyTorch user writes it; the dry run's has one block a stage."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, channels, width, stride):
            super().__init__()
            out = 4 * width
            self.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in (channels, width, width))
            self.convs = nn.ModuleList([
                nn.Conv2d(channels, width, 1, bias=False),
                nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False),
                nn.Conv2d(width, out, 1, bias=False)])
            self.shortcut = None
            if stride != 1 or channels != out:  # from the pre-activated input
                self.shortcut = nn.Conv2d(channels, out, 1, stride=stride, bias=False)

        def forward(self, x):
            h = torch.relu(self.bns[0](x))
            shortcut = x if self.shortcut is None else self.shortcut(h)
            h = self.convs[0](h)
            h = self.convs[1](torch.relu(self.bns[1](h)))
            return self.convs[2](torch.relu(self.bns[2](h))) + shortcut

    blocks = DRY_RUN_BLOCKS[BASE] if sizes["dry_run"] else 18
    widths = DRY_RUN_WIDTHS if sizes["dry_run"] else (16, 32, 64)
    layers, channels = [nn.Conv2d(3, widths[0], 3, padding=1, bias=False)], widths[0]
    for stage, width in enumerate(widths):
        for block in range(blocks):
            layers.append(Bottleneck(channels, width, 2 if stage and not block else 1))
            channels = 4 * width
    layers += [nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(channels, 10)]
    return nn.Sequential(*layers)


def measure_torch_reference(measurement, sizes):
    """Times the plain-PyTorch step: channels_last, bf16 autocast,
    `torch.compile` (Dynamo's `eager` backend in the dry run), SGD."""
    import torch
    from torch.nn.functional import cross_entropy

    if REFERENCE not in _CACHE:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        torch.backends.cudnn.benchmark = True
        model = torch_reference(sizes).to(device, memory_format=torch.channels_last)
        compiled = torch.compile(model, backend="eager" if sizes["dry_run"] else "inductor")
        sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        _CACHE[REFERENCE] = device, compiled, sgd, sum(p.numel() for p in model.parameters())
    device, compiled, sgd, parameters = _CACHE[REFERENCE]
    batch, size = measurement["batch"], sizes["image_size"]
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, 3, size, size, generator=generator) * 2 - 1).to(
        device, memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), generator=generator).to(device)

    def step():
        with torch.autocast(device, dtype=torch.bfloat16):
            loss = cross_entropy(compiled(x), y)
        sgd.zero_grad(set_to_none=True)
        loss.backward()
        sgd.step()
        if not math.isfinite(loss.item()):  # .item() waits for the GPU
            raise FloatingPointError("non-finite loss")

    return dict(_timed_result(step, sizes, batch, "torch"), model_name=REFERENCE, dtype=BF16,
                batch=batch, parameters=parameters,
                compiled="torch.compile(model), bf16 autocast, channels_last")


def count_macs(jaxpr):
    """Multiply-adds of the convolutions and matrix products of a jaxpr.

    A `scan` body counts `length` times, a `cond` its costliest branch.
    """
    jaxpr, total = getattr(jaxpr, "jaxpr", jaxpr), 0
    for eqn in jaxpr.eqns:
        name, out = eqn.primitive.name, eqn.outvars[0].aval
        if name == "conv_general_dilated":
            kernel = eqn.invars[1].aval
            out_features = kernel.shape[eqn.params["dimension_numbers"].rhs_spec[0]]
            total += math.prod(out.shape) * math.prod(kernel.shape) // out_features
        elif name == "dot_general":
            (contracting, _), _ = eqn.params["dimension_numbers"]
            total += math.prod(out.shape) * math.prod(eqn.invars[0].aval.shape[axis]
                                                      for axis in contracting)
        inner = [count_macs(getattr(item, "jaxpr", item)) for value in eqn.params.values()
                 for item in (value if isinstance(value, (tuple, list)) else (value,))
                 if hasattr(getattr(item, "jaxpr", item), "eqns")]
        total += max(inner, default=0) if name == "cond" else (
            eqn.params.get("length", 1) * sum(inner))
    return total


def keras_train_flops(name, sizes):
    """Model FLOPs of one image's training step: 3 (forward, and the two
    gradients of the backward pass) x 2 x the forward multiply-adds."""
    import jax
    import numpy as np

    model = build(name, sizes)
    weights = [[v.value for v in variables]
               for variables in (model.trainable_variables, model.non_trainable_variables)]
    image = np.zeros((1, sizes["image_size"], sizes["image_size"], 3), "float32")
    jaxpr = jax.make_jaxpr(lambda x: model.stateless_call(*weights, x, training=True)[0])
    return 3 * 2 * count_macs(jaxpr(image))


def measure_flops(measurement, sizes):
    """FLOPs per training image of each model; the GPU, its peaks, and a
    bf16 matrix product's rate measured here."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counts = {name: keras_train_flops(name, sizes) for name in (PROC, BASE)}
    x, y = torch.randn(2, 3, sizes["image_size"], sizes["image_size"]), torch.tensor([0, 1])
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(torch_reference(sizes)(x), y).backward()
    counts[REFERENCE] = counter.get_total_flops() / 2
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    device, n = ("cuda", 8192) if torch.cuda.is_available() else ("cpu", 256)
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    matmul = time_steps(lambda: (a @ b, sync()), 10, warmup=3)["mean_s"]
    return {"train_flops_per_image": counts, "gpu": gpu, "peak_tflops": peak_for(gpu),
            "flops_method": "keras: 3 x 2 x forward multiply-adds of convolutions and "
                            "matrix products (jaxpr); torch_reference: "
                            "torch.utils.flop_counter, forward and backward",
            "matmul_tflops": 2 * n**3 / matmul / 1e12,
            "matmul_method": f"{n}x{n}x{n} bf16 torch.matmul on {device}"}


def peak_for(device_name):
    """The dense peaks of a GPU by its name, or None for one not in `PEAKS`."""
    for fragment, peak in PEAKS:
        if fragment in device_name:
            return dict(peak, matched=fragment)
    return None


MEASURE = {"keras_step": measure_keras_step, REFERENCE: measure_torch_reference,
           "flops": measure_flops}


def child(job):
    """Runs a setting's measurements in order, printing each result at once;
    a failure (out of memory, say) is its result and the next one runs."""
    for measurement in job["setting"]["measurements"]:
        start = time.monotonic()
        try:
            result = dict(MEASURE[measurement["kind"]](measurement, job["sizes"]),
                          status="ok")
        except Exception as error:  # recorded; the next measurement runs
            traceback.print_exc()
            text = " ".join(f"{type(error).__name__}: {error}".split())
            oom = "out of memory" in text.lower() or "resource_exhausted" in text.lower()
            result = {"status": "oom" if oom else "error", "reason": text[:600]}
        report(dict(result, id=measurement["id"],
                    measurement_s=round(time.monotonic() - start, 3),
                    tensorflow_imported="tensorflow" in sys.modules))


# The parent: processes, budget, ratios, files ------------------------------

def progress(message):
    """One progress line on stdout, with the time."""
    print(time.strftime("%H:%M:%S ") + message, flush=True)


def run_setting(setting, sizes, timeout_s):
    """Runs one setting's child; returns `({measurement id: result}, its output)`.

    Every measurement gets a result: the child's, or "timeout" / "error"
    with a reason for those it never reported.
    """
    progress(f"{setting['id']}: {len(setting['measurements'])} measurements, "
             f"timeout {timeout_s:.0f} s")
    environment = {"KERAS_BACKEND": setting["backend"]}
    if setting["id"] == "flops":
        environment["JAX_PLATFORMS"] = "cpu"  # counting only; the GPU stays free
    if sizes["dry_run"]:  # XLA's quickest compiles, unless the user set flags
        environment["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", (
            "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"))
    job = json.dumps({"setting": setting, "sizes": sizes})
    start = time.monotonic()
    code, text, killed = run_process([os.path.abspath(__file__), "--child", job],
                                     timeout_s=timeout_s, **environment)
    found = {result.pop("id"): result for result in results_in(text)}
    tail = " | ".join(text.strip().splitlines()[-6:])[-1500:]
    for measurement in setting["measurements"]:
        found.setdefault(measurement["id"], {
            "status": "timeout" if killed else "error",
            "reason": f"{killed}; killed" if killed else f"exit code {code}: {tail}"})
    for result in found.values():
        result.setdefault("process_s", round(time.monotonic() - start, 2))
    return found, text


def skip_all(setting, reason):
    """A result per measurement of a setting that did not run."""
    return {m["id"]: {"status": "skipped", "reason": reason} for m in setting["measurements"]}


def _figure(results, key, field):
    result = results.get(key, {})
    value = result.get(field) if result.get("status") == "ok" else None
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _ratio(name, results, numerator, denominator, field="images_per_s"):
    top, bottom = _figure(results, numerator, field), _figure(results, denominator, field)
    if top is None or not bottom:
        return {"name": name, "value": None, "reason": "a figure it needs is missing"}
    return {"name": name, "value": top / bottom}


def ratios(results, sizes):
    """Every ratio of the suite: a list of `{"name", "value"}`, the value None
    (with a `reason`) where a figure it needs is missing."""
    found, proc = [], "ProcrustesResNet-166"
    for b in sizes["batches"]:
        for mode in ("jax-bf16", "jax-f32", "torch-eager-bf16", "torch-eager-f32",
                     "torch-compile-bf16", "torch-compile-f32"):
            found.append(_ratio(f"{mode} b{b}: {proc} / ResNet-164 images/s", results,
                                f"{mode}-{PROC}-b{b}", f"{mode}-{BASE}-b{b}"))
        share = _ratio(f"jax-bf16 b{b}: projection's share of a {proc} step at p=0.5",
                       results, f"jax-bf16-{PROC}-b{b}", f"jax-bf16-{PROC}-p0-b{b}")
        if share["value"] is not None:
            share["value"] = 1.0 - share["value"]
        found.append(share)
        for mode in ("torch-compile-bf16", "jax-bf16"):
            for model in (BASE, PROC):
                found.append(_ratio(f"b{b}: {mode} {model} / plain PyTorch ResNet-164 "
                                    "images/s", results, f"{mode}-{model}-b{b}",
                                    f"torch-reference-b{b}"))
    d = sizes["deep_batch"]
    deep, remat, deep_name = f"jax-bf16-{DEEP}-b{d}", f"jax-bf16-{DEEP}-remat-b{d}", (
        f"jax-bf16 b{d}: ProcrustesResNet-1003")
    return found + [
        _ratio(f"jax-bf16 b{d}: first step (compile) ProcrustesResNet-1003 / {proc}",
               results, deep, f"jax-bf16-{PROC}-b{d}", "first_step_s"),
        _ratio(f"{deep_name} step time, remat / no remat", results, remat, deep,
               "step_ms_mean"),
        _ratio(f"{deep_name} peak memory, remat / no remat", results, remat, deep,
               "peak_memory_gib")]


def add_flops(results):
    """Adds achieved TFLOP/s and the share of the GPU's dense peak (bf16, or
    TF32 for float32: Hopper runs float32 convolutions on TF32 Tensor Cores
    by default) to each timed result, from the `flops` measurement."""
    counts = results.get("flops", {}).get("train_flops_per_image") or {}
    peak = results.get("flops", {}).get("peak_tflops")
    for result in results.values():
        model = result.get("model_name")
        if result.get("status") != "ok" or model not in counts:
            continue
        result["train_flops_per_image"] = counts[model]
        result["tflops"] = counts[model] * result["images_per_s"] / 1e12
        if peak:
            which = "bf16" if "bfloat16" in result["dtype"] else "tf32"
            result["peak_used"] = f"dense {which}, {peak[which]} TFLOP/s"
            result["peak_fraction"] = result["tflops"] / peak[which]


def _cell(value, digits):
    if value is None:
        return ""
    if 0 < abs(value) < 10.0 ** -digits * 10:
        return f"{value:.2g}"  # a dry run's tiny figures
    return f"{value:,.{digits}f}"


def markdown(data):
    """The results as Markdown: a header, the timings table, the ratios."""
    meta, results = data["suite"], data["results"]
    flops = results.get("flops", {})
    peak = flops.get("peak_tflops")
    counts = flops.get("train_flops_per_image") or {}
    peaks = (f"bf16 {peak['bf16']}, tf32 {peak['tf32']}, fp32 {peak['fp32']} TFLOP/s "
             f"({peak['source']}); float32 settings are held against TF32"
             if peak else "none: this GPU is not in the table of peaks")
    lines = [
        "# GPU suite results", "",
        f"- GPU: {flops.get('gpu', 'unknown')}; dry run: {meta['dry_run']}",
        f"- command: `{meta['command']}`; {meta['elapsed_s']:.0f} s of a "
        f"{meta['budget_s']:.0f} s budget; TensorFlow imported by any child: "
        f"{meta['tensorflow_imported']}",
        f"- peaks (dense): {peaks}",
        f"- measured here: {_cell(flops.get('matmul_tflops'), 1)} TFLOP/s "
        f"({flops.get('matmul_method', '')})",
        "- FLOPs per training image: " + ", ".join(
            f"{name} {count:,.0f}" for name, count in counts.items())
        + f" ({flops.get('flops_method', flops.get('reason', ''))})", "",
        "| setting | images/s | step ms (mean) | first step s | peak GiB | TFLOP/s "
        "| of peak | status |", "|---|---|---|---|---|---|---|---|"]
    for key in (key for setting in data["plan"] for key in setting["measurements"]):
        result = results.get(key)
        if result is None or key == "flops":
            continue
        share = result.get("peak_fraction")
        status = result["status"] + (f": {result['reason']}" if result.get("reason") else "")
        lines.append("| " + " | ".join([
            key, _cell(result.get("images_per_s"), 1), _cell(result.get("step_ms_mean"), 2),
            _cell(result.get("first_step_s"), 2), _cell(result.get("peak_memory_gib"), 3),
            _cell(result.get("tflops"), 2), "" if share is None else f"{100 * share:.1f}%",
            status.replace("|", "/")[:200]]) + " |")
    lines += ["", "| ratio | value |", "|---|---|"]
    for ratio in data["ratios"]:
        value = ratio["value"]
        shown = f"-- ({ratio['reason']})" if value is None else f"{value:.3f}"
        lines.append(f"| {ratio['name']} | {shown} |")
    return "\n".join(lines) + "\n"


def record(data, setting, found, text=None):
    """Stores a setting's results, logs its output, rewrites the files (whole:
    a run stopped early keeps what finished)."""
    meta, results = data["suite"], data["results"]
    if text is not None:
        with open(os.path.join(meta["out"], "gpu_suite.log"), "a") as log:
            log.write(f"===== {setting['id']}\n{text}\n")
    for measurement in setting["measurements"]:
        key = measurement["id"]
        result = results[key] = found[key]
        if result["status"] != "ok":
            progress(f"  {key}: {result['status']}: {result.get('reason', '')[:160]}")
        else:
            progress(f"  {key}: " + (f"{result['images_per_s']:,.1f} images/s, first step "
                                     f"{result['first_step_s']:.2f} s, peak "
                                     f"{result['peak_memory_gib']:.3f} GiB"
                                     if "images_per_s" in result else "done"))
    add_flops(results)
    data["ratios"] = ratios(results, meta["sizes"])
    meta.update(elapsed_s=time.monotonic() - data["start"], tensorflow_imported=any(
        r.get("tensorflow_imported") for r in results.values()))
    saved = {k: v for k, v in data.items() if k != "start"}
    for name, content in (("gpu_suite.json", json.dumps(saved, indent=1)),
                          ("gpu_suite.md", markdown(data))):
        path = os.path.join(meta["out"], name)
        with open(path + ".tmp", "w") as stream:
            stream.write(content)
        os.replace(path + ".tmp", path)


def run_on_gpu(data, plan):
    """One process per setting, one after another, each under its weight's
    share of what is left of the budget (time one leaves passes on)."""
    weight_left = sum(s["weight"] for s in plan)
    for setting in plan:
        left = data["suite"]["budget_s"] - (time.monotonic() - data["start"])
        timeout_s = max(left * setting["weight"] / weight_left, 0.0)
        weight_left -= setting["weight"]
        if timeout_s < 5:
            record(data, setting, skip_all(setting, (
                f"its share of what is left of the budget ({timeout_s:.0f} s) is under 5 s")))
        else:
            record(data, setting, *run_setting(setting, data["suite"]["sizes"], timeout_s))


def dry_run(data, plan):
    """The settings that cover a code path, in one process per backend (side
    by side), each under the budget; the others recorded as skipped."""
    processes = {}
    for setting in plan:
        cover = dry_run_cover(setting["id"])
        if cover != setting["id"]:
            record(data, setting, skip_all(setting, (
                f"dry run: its code runs in {cover}" if cover else
                "dry run: not run on the CPU (Dynamo's tracing of a Keras train step "
                "takes minutes on 2 cores); runs on a GPU only")))
            continue
        process = processes.setdefault(setting["backend"], {
            "id": f"dry-run-{setting['backend']}", "backend": setting["backend"],
            "measurements": []})
        process["measurements"] += setting["measurements"]
    sizes = data["suite"]["sizes"]
    with concurrent.futures.ThreadPoolExecutor(len(processes)) as pool:
        running = {pool.submit(run_setting, process, sizes, sizes["budget_s"]): process
                   for process in processes.values()}
        for future in concurrent.futures.as_completed(running):
            record(data, running[future], *future.result())


def main():
    """The suite (`OUT` set), or with `--child JOB` one setting's process."""
    if sys.argv[1:2] == ["--child"]:
        return child(json.loads(sys.argv[2]))
    out = os.environ.get("OUT")
    if not out:
        sys.exit("gpu_suite: set OUT to the folder for the results (OUT=folder)")
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "gpu_suite.log"), "w").close()
    sizes = dict(DRY_RUN if os.environ.get("GPU_SUITE_DRY_RUN") == "1" else GPU)
    if os.environ.get("GPU_SUITE_BUDGET_S"):
        sizes["budget_s"] = float(os.environ["GPU_SUITE_BUDGET_S"])
    plan = settings(sizes)
    data = {"start": time.monotonic(), "results": {},
            "suite": {"dry_run": sizes["dry_run"], "budget_s": sizes["budget_s"],
                      "sizes": sizes, "out": out, "command": os.environ.get(
                          "GPU_SUITE_COMMAND", "python benchmarks/gpu_suite.py")},
            "plan": [{"id": s["id"], "backend": s["backend"],
                      "measurements": [m["id"] for m in s["measurements"]]} for s in plan]}
    progress(f"gpu suite: {len(plan)} settings, budget {sizes['budget_s']:.0f} s, dry run "
             f"{sizes['dry_run']}, results in {out}")
    (dry_run if sizes["dry_run"] else run_on_gpu)(data, plan)
    progress(f"done in {time.monotonic() - data['start']:.0f} s: "
             f"{os.path.join(out, 'gpu_suite.md')}")


if __name__ == "__main__":
    main()
