"""The GPU suite: speed, memory and FLOP/s of Procrustes ResNets in one run.

`benchmarks/gpu_suite.sh` runs it (`python -m gpu_suite`, with `benchmarks/`
on `PYTHONPATH`); docs/gpu_suite.md says what it measures and how to run it.
"""
