"""Data-parallel scaling over local JAX processes: images/second of 1, 2, 4.

    python benchmarks/multiprocess.py [--model procresnet13_bottleneck] [--global-batch 64]

Every setting is a job of N processes on 127.0.0.1 (one CPU device each),
joined by `keras.distribution.initialize` as on a cluster, training one model
with `DataParallel` on the same global batch (each process feeds its
`global/N` share). Process 0 reports the median step time; printed are
images/second and the ratio to one process. On a CPU the processes share
the same cores, so this shows the cost of the machinery, not a GPU cluster's
scaling.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

from common import report
from common import results_in
from common import time_steps


def measure(model_name, global_batch, repeats):
    """Images/second of this job, measured in this process (one of N)."""
    import keras
    import numpy as np

    keras.distribution.initialize()  # from KERAS_DISTRIBUTION_* variables
    import jax

    keras.distribution.set_distribution(keras.distribution.DataParallel(
        devices=jax.devices(), auto_shard_dataset=False))
    from keras_procrustes import models

    model = models.get(model_name, input_shape=(32, 32, 3))
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    local_batch = global_batch // jax.process_count()
    rng = np.random.default_rng(jax.process_index())
    x = rng.normal(size=(local_batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, local_batch)
    seconds = time_steps(lambda: model.train_on_batch(x, y), repeats, warmup=2)["median_s"]
    return {"images_per_second": global_batch / seconds, "devices": jax.device_count()}


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_job(processes, arguments, timeout_s):
    """Starts `processes` children of this script as one job; process 0's result.

    Args:
        processes: the number of processes.
        arguments: the children's command-line arguments.
        timeout_s: the job's deadline; its processes are killed after it.

    Returns:
        The dict process 0 reported, or `{"killed": "why"}`.
    """
    port = _free_port()
    children, outputs = [], []
    try:
        for index in range(processes):
            out = tempfile.TemporaryFile("w+")
            env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2",
                       KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                       KERAS_DISTRIBUTION_NUM_PROCESSES=str(processes),
                       KERAS_DISTRIBUTION_PROCESS_ID=str(index))
            children.append(subprocess.Popen([sys.executable, __file__, *arguments],
                                             stdout=out, stderr=subprocess.STDOUT, text=True,
                                             env=env))
            outputs.append(out)
        deadline = time.monotonic() + timeout_s
        while any(child.poll() is None for child in children):
            if time.monotonic() > deadline:
                return {"killed": f"still running after {timeout_s:g} s"}
            time.sleep(0.2)
        outputs[0].seek(0)
        text = outputs[0].read()
        results = results_in(text)
        if any(child.returncode for child in children) or not results:
            raise RuntimeError(f"a job of {processes} processes failed:\n{text[-3000:]}")
        return results[0]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        for out in outputs:
            out.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="procresnet13_bottleneck")
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--timeout-s", type=float, default=600)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        report(measure(args.model, args.global_batch, args.repeats))
        return
    for processes in args.processes:
        if args.global_batch % processes:
            parser.exit(2, f"--global-batch {args.global_batch}: not divisible by "
                           f"{processes} processes\n")
    arguments = ["--model", args.model, "--global-batch", str(args.global_batch),
                 "--repeats", str(args.repeats), "--child"]
    reference = None
    for processes in args.processes:
        result = run_job(processes, arguments, args.timeout_s)
        if "killed" in result:
            print(f"{processes} processes: killed, {result['killed']}", flush=True)
            continue
        rate = result["images_per_second"]
        reference = reference or rate
        print(f"{processes} processes ({result['devices']} devices): {rate:8.1f} images/s, "
              f"{rate / reference:4.2f}x one process ({args.model}, global batch "
              f"{args.global_batch})", flush=True)


if __name__ == "__main__":
    main()
