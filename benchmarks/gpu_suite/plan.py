"""What the suite runs, in order of priority, with each process's time share.

A setting is one child process: a kind of measurement and the measurements
it makes one after another (each batch size of one configuration). Each
child reports a measurement as soon as it has it, so a setting stopped by
its timeout keeps the figures it already made. `weight` is a setting's
share of the suite's budget (`budget_s`); time a setting leaves unused
passes on to the next ones, so the sum of all timeouts stays the budget.
"""

GPU = {
    "dry_run": False,
    "budget_s": 420.0,  # the measurements; gpu_suite.sh kills all at 470 s
    "batches": (128, 512),
    "deep_batch": 128,
    "image_size": 32,
    "warmup_steps": 2,  # the first one (compilation) is timed on its own
    "timed_steps": 6,
    "accuracy_min_s": 60.0,
    "accuracy_epochs": 1,
    "accuracy_seeds": (0, 1, 2),
    "accuracy_model_depth": 20,
    "accuracy_subset": None,
}

DRY_RUN = {
    "dry_run": True,
    # Each of the two processes (side by side). They need about 40 s of CPU
    # time in all; the cap leaves room for a machine shared with other work.
    "budget_s": 240.0,
    "batches": (4,),
    "deep_batch": 4,
    "image_size": 8,
    "warmup_steps": 1,
    "timed_steps": 2,
    "accuracy_min_s": 0.0,
    "accuracy_epochs": 1,
    "accuracy_seeds": (0,),
    "accuracy_model_depth": 20,
    "accuracy_subset": 256,  # images of each split
}

# Tiny stand-ins of the dry run: blocks per stage of each architecture, and
# the stages' inner widths (the presets' are 16, 32, 64).
DRY_RUN_BLOCKS = {"procresnet166": 1, "resnet164_baseline": 1, "procresnet1003": 2}
DRY_RUN_WIDTHS = (4, 8, 16)

PROC = "procresnet166"
BASE = "resnet164_baseline"
DEEP = "procresnet1003"
BF16 = "mixed_bfloat16"
F32 = "float32"


def _step(backend, model, dtype, jit=True, probability=0.5, remat=False):
    return {"backend": backend, "model": model, "dtype": dtype, "jit": jit,
            "probability": probability, "remat": remat}


def _name(config):
    mode = {"jax": "jax", "torch": "torch-compile" if config["jit"] else "torch-eager"}
    parts = [mode[config["backend"]], "bf16" if config["dtype"] == BF16 else "f32",
             config["model"]]
    if config["probability"] != 0.5:
        parts.append(f"p{config['probability']:g}")
    if config["remat"]:
        parts.append("remat")
    return "-".join(parts)


def _keras_setting(config, batches, weight):
    name = _name(config)
    measurements = [dict(config, id=f"{name}-b{batch}", batch=batch) for batch in batches]
    # A torch mode whose first setting times out is skipped after it (see
    # `__main__.run_on_gpu`); each JAX setting compiles on its own.
    family = "-".join(name.split("-")[:2]) if config["backend"] == "torch" else None
    return {"id": name, "kind": "keras_step", "backend": config["backend"],
            "family": family, "weight": weight, "measurements": measurements}


def _with_kind(setting):
    for measurement in setting["measurements"]:
        measurement["kind"] = setting["kind"]
    return setting


def settings(sizes):
    """The suite's settings, most wanted first.

    Args:
        sizes: `GPU` or `DRY_RUN`.

    Returns:
        A list of setting dicts: `id`, `kind`, `backend` (the child's
        `KERAS_BACKEND`), `weight` and `measurements` (each with an `id`).
    """
    batches, deep = sizes["batches"], (sizes["deep_batch"],)
    plan = [{"id": "flops", "kind": "flops", "backend": "jax", "weight": 10,
             "measurements": [{"id": "flops", "models": [PROC, BASE]}]}]
    keras_settings = [
        (_step("jax", PROC, BF16), batches, 9),
        (_step("jax", BASE, BF16), batches, 8),
        (_step("jax", PROC, BF16, probability=0.0), batches, 8),
    ]
    plan += [_keras_setting(*setting) for setting in keras_settings]
    plan.append({"id": "torch-reference", "kind": "torch_reference", "backend": "torch",
                 "weight": 16,  # Inductor compiles ResNet-164's forward and backward
                 "measurements": [{"id": f"torch-reference-b{batch}", "batch": batch}
                                  for batch in batches]})
    keras_settings = [
        (_step("jax", PROC, F32), batches, 7),
        (_step("jax", BASE, F32), batches, 6),
        (_step("jax", DEEP, BF16), deep, 12),
        (_step("jax", DEEP, BF16, remat=True), deep, 12),
        (_step("torch", PROC, BF16, jit=False), batches, 4),
        (_step("torch", BASE, BF16, jit=False), batches, 4),
        (_step("torch", PROC, F32, jit=False), batches, 4),
        (_step("torch", BASE, F32, jit=False), batches, 4),
        (_step("torch", PROC, BF16), batches, 6),
        (_step("torch", BASE, BF16), batches, 6),
        (_step("torch", PROC, F32), batches, 6),
        (_step("torch", BASE, F32), batches, 6),
    ]
    plan += [_keras_setting(*setting) for setting in keras_settings]
    plan.append({"id": "accuracy", "kind": "accuracy", "backend": "jax", "weight": 0,
                 "measurements": [{"id": f"accuracy-seed{seed}", "seed": seed}
                                  for seed in sizes["accuracy_seeds"]]})
    return [_with_kind(setting) for setting in plan]


# The dry run runs one setting per code path (on 2 CPU cores every XLA or
# Dynamo compilation takes tens of seconds); each other setting is recorded
# as skipped, naming the one that runs its code. None: not in the dry run
# (Dynamo's tracing of a Keras train step takes minutes on 2 CPU cores).
DRY_RUN_COVERS = {
    "flops": "flops",
    "jax-bf16-procresnet166": "jax-bf16-procresnet166",
    "jax-bf16-resnet164_baseline": "jax-f32-resnet164_baseline",
    "jax-bf16-procresnet166-p0": "jax-bf16-procresnet166",
    "torch-reference": "torch-reference",
    "jax-f32-procresnet166": "jax-bf16-procresnet166",
    "jax-f32-resnet164_baseline": "jax-f32-resnet164_baseline",
    "jax-bf16-procresnet1003": "jax-bf16-procresnet1003-remat",
    "jax-bf16-procresnet1003-remat": "jax-bf16-procresnet1003-remat",
    "torch-eager-bf16-procresnet166": "torch-eager-f32-procresnet166",
    "torch-eager-bf16-resnet164_baseline": "torch-eager-f32-procresnet166",
    "torch-eager-f32-procresnet166": "torch-eager-f32-procresnet166",
    "torch-eager-f32-resnet164_baseline": "torch-eager-f32-procresnet166",
    "torch-compile-bf16-procresnet166": None,
    "torch-compile-bf16-resnet164_baseline": None,
    "torch-compile-f32-procresnet166": None,
    "torch-compile-f32-resnet164_baseline": None,
    "accuracy": "accuracy",
}


def dry_run_processes(settings):
    """The dry run's processes and skips.

    The settings that run go into one process per backend (fewer imports:
    on 2 shared cores each costs seconds), their measurements in plan
    order; the others are skipped with the id of the setting that covers
    their code.

    Args:
        settings: `settings(DRY_RUN)`.

    Returns:
        `(processes, skipped)`: settings to run, and `{setting id: reason}`.
    """
    processes, skipped = {}, {}
    for setting in settings:
        cover = DRY_RUN_COVERS[setting["id"]]
        if cover is None:
            skipped[setting["id"]] = (
                "dry run: not run on the CPU (Dynamo's tracing of a Keras train "
                "step takes minutes on 2 cores); runs on a GPU only")
            continue
        if cover != setting["id"]:
            skipped[setting["id"]] = f"dry run: its code runs in {cover}"
            continue
        backend = setting["backend"]
        if backend not in processes:
            processes[backend] = dict(setting, id=f"dry-run-{backend}", kind="mixed",
                                      measurements=[])
        else:
            processes[backend]["weight"] += setting["weight"]
        processes[backend]["measurements"] += setting["measurements"]
    return list(processes.values()), skipped
