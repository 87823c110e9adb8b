"""One setting's process: hides TensorFlow, runs its measurements, prints each.

    python -m gpu_suite.child '{"setting": {...}, "sizes": {...}}'

Each measurement prints one `RESULT {json}` line as soon as it is made; an
exception in one (out of memory, say) is reported as its result and the
next one runs.
"""

import json
import os
import sys
import time
import traceback

from gpu_suite import hide_tf


def _failure(error):
    text = f"{type(error).__name__}: {error}".strip()
    lowered = text.lower()
    oom = "out of memory" in lowered or "resource_exhausted" in lowered
    return {"status": "oom" if oom else "error",
            "reason": " ".join(text.split())[:600]}


def _measure_function(kind):
    if kind == "keras_step":
        from gpu_suite.keras_step import measure
    elif kind == "torch_reference":
        from gpu_suite.torch_reference import measure
    elif kind == "flops":
        from gpu_suite.flops import measure
    elif kind == "accuracy":
        from gpu_suite.accuracy import measure
    else:
        raise ValueError(f"`kind` must be a kind of the plan. Received kind={kind!r}")
    return measure


def _use_eager_compile():
    """Dry run: `torch.compile` traces with Dynamo but skips Inductor's codegen."""
    import torch

    compile_inductor = torch.compile

    def compile_eager(*args, **kwargs):
        kwargs.setdefault("backend", "eager")
        return compile_inductor(*args, **kwargs)

    torch.compile = compile_eager


def main():
    job = json.loads(sys.argv[1])
    setting, sizes = job["setting"], job["sizes"]
    if setting["kind"] == "flops":
        os.environ["JAX_PLATFORMS"] = "cpu"  # counting only; leave the GPU alone
    if sizes["dry_run"]:
        os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 "
                              "--xla_llvm_disable_expensive_passes=true")
    hide_tf.install()
    if sizes["dry_run"] and setting["backend"] == "torch":
        _use_eager_compile()
    for measurement in setting["measurements"]:
        start = time.monotonic()
        try:
            measure = _measure_function(measurement["kind"])
            result = dict(measure(measurement, sizes))
            result.setdefault("status", "ok")
        except Exception as error:  # recorded; the next measurement runs
            traceback.print_exc()
            result = _failure(error)
        result["id"] = measurement["id"]
        result["measurement_s"] = round(time.monotonic() - start, 3)
        result["tensorflow_imported"] = "tensorflow" in sys.modules
        print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
