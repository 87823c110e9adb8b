"""The recipes of `recipes/`: every run of `paper.py` makes a valid config; the quick start runs."""

import importlib.util
import os
import subprocess

import pytest

from keras_procrustes import models
from keras_procrustes.cli import flags
from keras_procrustes.cli import train
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
