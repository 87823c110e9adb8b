"""The recipes of `recipes/`: every run of `paper.py` makes a valid config; the quick start runs."""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import pytest

from keras_procrustes import models
from keras_procrustes.cli import flags
from keras_procrustes.cli import train
from keras_procrustes.data import sources
from keras_procrustes.training.config import TrainingConfig
from processes import ROOT, child_env


def _paper():
    spec = importlib.util.spec_from_file_location(
        "paper", os.path.join(ROOT, "recipes", "paper.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAPER = _paper()


@pytest.mark.parametrize("name", sorted(PAPER.RECIPES) + sorted(PAPER.OLD_NAMES))
def test_every_paper_recipe_makes_the_papers_config(name):
    arguments, warning = PAPER.train_arguments(name)
    values = flags.config_values(train.build_parser().parse_args(arguments), TrainingConfig)
    config = TrainingConfig(**values)
    config.check()
    model, dataset = name.rsplit("_", 1)
    assert models.canonical_name(config.model) in models.list_models()
    assert (config.dataset, config.log_dir) == (dataset, f"runs/{name}")
    assert (warning is not None) == (name in PAPER.OLD_NAMES)
    assert model in config.model  # an old name runs its baseline (resnet164 -> ..._baseline)
    # The paper's recipe (Zaeemzadeh et al., TPAMI 2020; SPEC section 5).
    assert (config.epochs, config.batch_size, config.lr, config.momentum, config.weight_decay,
            config.projection_probability) == (300, 128, 0.1, 0.9, 1e-4, 0.5)


def test_an_unknown_recipe_is_refused(capsys):
    assert PAPER.main(["procresnet58_mnist"]) == 2
    assert "unknown recipe 'procresnet58_mnist'" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists(sources.DEBIAN_FASHION_MNIST),
                    reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)")
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="the quick start trains on TensorFlow, the [train] extra's backend")
@pytest.mark.multiprocess
def test_the_quick_start_script_runs_in_its_small_mode(tmp_path):
    # The README's command, in this environment (VENV) and on 64 images.
    result = subprocess.run(
        ["bash", os.path.join(ROOT, "recipes", "quickstart.sh"), "--log-dir", str(tmp_path / "q")],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
        env=child_env(VENV=sys.prefix, QUICKSTART_SMALL="1", KERAS_BACKEND="tensorflow"))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert f"Watch it: . {sys.prefix}/bin/activate" in result.stdout
    with open(tmp_path / "q" / "metrics.json") as handle:
        metrics = json.load(handle)
    assert (metrics["model"], metrics["epochs_done"], metrics["train_examples"]) == (
        "procresnet58", 1, 64)
    assert os.listdir(tmp_path / "q" / "train")  # TensorBoard's logs, the figure's included
