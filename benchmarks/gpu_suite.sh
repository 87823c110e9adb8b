#!/usr/bin/env bash
# The GPU suite in one command: speed, memory and FLOP/s of Procrustes ResNets
# on one GPU, within 8 minutes; results in $OUT (gpu_suite.json, gpu_suite.md,
# gpu_suite.log). See docs/gpu_suite.md.
#
#   OUT=results bash benchmarks/gpu_suite.sh                        # on a GPU
#   GPU_SUITE_DRY_RUN=1 OUT=/tmp/suite bash benchmarks/gpu_suite.sh  # CPU, tiny
set -u
if [ -z "${OUT:-}" ]; then
  echo "gpu_suite.sh: set OUT to the folder for the results (OUT=folder bash $0)" >&2
  exit 2
fi
mkdir -p "$OUT" || exit 2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-python3}"
# The package from this checkout unless one is installed.
found() { "$python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)"; }
if ! found keras_procrustes && [ -d "$root/keras_procrustes" ]; then
  export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
fi
export GPU_SUITE_COMMAND="${GPU_SUITE_DRY_RUN:+GPU_SUITE_DRY_RUN=$GPU_SUITE_DRY_RUN }OUT=$OUT bash benchmarks/gpu_suite.sh"
# The suite budgets itself (420 s on a GPU); this is the hard stop at 8 minutes.
limit=470
[ "${GPU_SUITE_DRY_RUN:-0}" = 1 ] && limit=400
timeout -k 5 "$limit" "$python" "$here/gpu_suite.py"
status=$?
[ $status = 124 ] && echo "gpu_suite.sh: stopped at the ${limit} s limit; $OUT holds what finished" >&2
exit $status
