#!/usr/bin/env bash
# The main job on a fresh machine with no internet: set up a venv (the
# package and its [train] extra: TensorFlow, tfds, TensorBoard), get the
# offline real data set (Debian's dataset-fashion-mnist), train a Procrustes
# ResNet (ProcrustesResNet-58) on a short schedule, with TensorBoard logs in
# runs/quickstart (runs/quickstart-2, ... on later runs): the scalars, weight
# histograms, the model's graph and, after every epoch, the paper's figure
# (the per-block gradient norm ratio profile, --grad-norm-every; matplotlib
# from the [figures] extra draws it). Extra options go to
# `python -m keras_procrustes.cli.train`.
#
# VENV=path uses that virtual environment as it is (the package already
# installed) instead of .venv; QUICKSTART_SMALL=1 runs the same command on
# 64 images for 1 epoch, a check that the script works.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q dataset-fashion-mnist
fi
if [ -n "${VENV:-}" ]; then
  . "$VENV/bin/activate"
else
  VENV=.venv
  [ -d .venv ] || python3 -m venv .venv
  . .venv/bin/activate
  python -m pip install -q --upgrade pip
  python -m pip install -q -e ".[train,figures]"
fi

size=(--epochs 3 --max-train-examples 10000)
if [ "${QUICKSTART_SMALL:-0}" = 1 ]; then
  size=(--epochs 1 --max-train-examples 64 --max-test-examples 64)
fi
# The command starts quiet by itself (set TF_CPP_MIN_LOG_LEVEL for TensorFlow's logs).
python -m keras_procrustes.cli.train --model procresnet58 --dataset fashion_mnist \
  "${size[@]}" --grad-norm-every 1 \
  --log-dir runs/quickstart --existing new "$@"
echo "Watch it: . $VENV/bin/activate && tensorboard --logdir runs"
