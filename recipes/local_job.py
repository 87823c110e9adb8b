"""Starts a training job of N processes on this machine, to try multi-host training.

    python recipes/local_job.py --processes 2 --cpu-devices 2 -- \\
        --model procresnet13_bottleneck --dataset fashion_mnist --epochs 2 --batch-size 8 \\
        --projection-engine newton_schulz --log-dir runs/job

Every process runs `keras-procrustes-train` with the arguments after `--` on
JAX, told its place by the KERAS_DISTRIBUTION_* variables (what a cluster's
scheduler sets: see recipes/cluster/). Process 0 coordinates on a free port
of 127.0.0.1 and writes the run folder. When one process fails, the others
are stopped; the exit code is the first failure's. `--cpu-devices N` gives
each process N CPU devices (several need `--projection-engine newton_schulz`).
"""

import argparse
import os
import socket
import subprocess
import sys
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--cpu-devices", type=int, default=0, help="CPU devices per process")
    parser.add_argument("train_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.exit(2, f"--processes {args.processes}: must be a positive int\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    train_args = [a for a in args.train_args if a != "--"]
    if args.cpu_devices:
        train_args += ["--cpu-replicas", str(args.cpu_devices)]
    processes = []
    for index in range(args.processes):
        env = dict(os.environ, KERAS_BACKEND="jax",
                   KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                   KERAS_DISTRIBUTION_NUM_PROCESSES=str(args.processes),
                   KERAS_DISTRIBUTION_PROCESS_ID=str(index))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "keras_procrustes.cli.train", *train_args], env=env))
    return _wait(processes)


def _wait(processes):
    """Waits for all; stops the rest at the first failure; returns its code."""
    try:
        while True:
            codes = [p.poll() for p in processes]
            failed = [c for c in codes if c not in (None, 0)]
            if failed or all(c == 0 for c in codes):
                return failed[0] if failed else 0
            time.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
