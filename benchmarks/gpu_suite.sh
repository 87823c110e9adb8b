#!/usr/bin/env bash
# The GPU suite in one command: speed, memory and FLOP/s of Procrustes ResNets
# on one GPU, within 8 minutes; results in $OUT (gpu_suite.json, gpu_suite.md,
# gpu_suite.log). See docs/gpu_suite.md.
#
#   OUT=results bash benchmarks/gpu_suite.sh                       # on a GPU
#   GPU_SUITE_DRY_RUN=1 OUT=/tmp/suite bash benchmarks/gpu_suite.sh # CPU, tiny
#
# WHEELS: a folder of wheels (keras, the dependencies the machine lacks,
# optionally keras_procrustes), installed with --no-index into a folder put on
# PYTHONPATH when keras is not importable; default .gpu_suite/wheels.
# FASHION_MNIST_DIR: idx files for the optional accuracy comparison; default
# .gpu_suite/fashion-mnist.
set -u
if [ -z "${OUT:-}" ]; then
  echo "gpu_suite.sh: set OUT to the folder for the results (OUT=folder bash $0)" >&2
  exit 2
fi
mkdir -p "$OUT" || exit 2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-python3}"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
# The package from this checkout unless one is installed.
found() { "$python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)"; }
if ! found keras_procrustes && [ -d "$root/keras_procrustes" ]; then
  export PYTHONPATH="$PYTHONPATH:$root"
fi
carried="$root/.gpu_suite"  # the folder a device run carries (docs/gpu_suite.md)
if ! found keras; then
  WHEELS="${WHEELS:-$carried/wheels}"
  if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    echo "gpu_suite.sh: keras is not importable and WHEELS=$WHEELS holds no wheels (see docs/gpu_suite.md)" >&2
    exit 2
  fi
  site="${TMPDIR:-/tmp}/gpu_suite_site"
  echo "installing $(ls "$WHEELS"/*.whl | wc -l) wheels from $WHEELS into $site (--no-index)"
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" "$WHEELS"/*.whl || exit 2
  export PYTHONPATH="$site:$PYTHONPATH"
  found keras || { echo "gpu_suite.sh: keras still not importable after installing $WHEELS" >&2; exit 2; }
fi
export FASHION_MNIST_DIR="${FASHION_MNIST_DIR:-$carried/fashion-mnist}"
export GPU_SUITE_COMMAND="${GPU_SUITE_DRY_RUN:+GPU_SUITE_DRY_RUN=$GPU_SUITE_DRY_RUN }OUT=$OUT bash benchmarks/gpu_suite.sh"
# The suite budgets itself (420 s on a GPU); this is the hard stop at 8 minutes.
limit=470
[ "${GPU_SUITE_DRY_RUN:-0}" = 1 ] && limit=400
cd "$root" && timeout -k 5 "$limit" "$python" -m gpu_suite
status=$?
[ $status = 124 ] && echo "gpu_suite.sh: stopped at the ${limit} s limit; $OUT holds what finished" >&2
exit $status
