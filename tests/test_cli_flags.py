"""The commands' flags come from the config classes: same spellings, the configs' defaults.

Also: `search` checks its options without the command, and the old root
modules still work for one release, with a `FutureWarning`.
"""

import importlib
import sys

import pytest

from keras_procrustes.cli import flags
from keras_procrustes.cli import train as train_command
from keras_procrustes.cli import tune as tune_command
from keras_procrustes.training import OptionError
from keras_procrustes.training import SearchConfig
from keras_procrustes.training import TrainingConfig

DATA_FLAGS = {
    "--dataset", "--data-dir", "--no-download", "--max-train-examples", "--max-test-examples",
    "--image-size", "--channels", "--cpu-replicas", "--seed", "--verbose",
}
# The flags as the commands spelled them before they were generated (and
# the ones added since).
TRAIN_FLAGS = DATA_FLAGS | {
    "--batch-size", "--coordinator", "--epochs", "--existing", "--grad-norm-every",
    "--grad-norm-examples", "--init-timeout", "--jit-compile", "--log-dir", "--lr",
    "--mixed-precision", "--model", "--momentum", "--no-backup", "--num-processes", "--process-id",
    "--projection-engine", "--projection-probability", "--recipe", "--remat", "--weight-decay",
}
TUNE_FLAGS = DATA_FLAGS | {
    "--batch-sizes", "--block-type", "--chief", "--depths", "--directory", "--epochs",
    "--max-trials", "--objective", "--oracle", "--oracle-timeout", "--overwrite",
    "--project-name", "--tuner", "--worker",
}


def _flags(parser):
    return {s for action in parser._actions for s in action.option_strings} - {"-h", "--help"}


@pytest.mark.parametrize("command, config_class, expected", [
    (train_command, TrainingConfig, TRAIN_FLAGS),
    (tune_command, SearchConfig, TUNE_FLAGS),
])
def test_flags_keep_their_spelling_and_take_the_configs_defaults(command, config_class,
                                                                 expected):
    parser = command.build_parser()
    assert _flags(parser) == expected
    parsed = flags.config_values(parser.parse_args([]), config_class)
    assert config_class(**parsed) == config_class()


def test_switches_and_lists_parse_into_config_values():
    args = train_command.build_parser().parse_args(["--no-backup", "--no-download", "--remat"])
    values = flags.config_values(args, TrainingConfig)
    assert (values["backup"], values["download"], values["remat"]) == (False, False, True)
    args = tune_command.build_parser().parse_args(["--depths", "11", "20", "--chief"])
    values = flags.config_values(args, SearchConfig)
    assert values["depths"] == (11, 20) and values["chief"] is True


def test_search_checks_its_options_without_the_command(tmp_path):
    from keras_procrustes.training.search.driver import search

    with pytest.raises(OptionError) as info:
        search("cifar10", tuner="grid", directory=str(tmp_path),
               data_dir=str(tmp_path / "absent"))
    assert info.value.option == "tuner" and "random" in info.value.requirement
    with pytest.raises(OptionError) as info:
        SearchConfig(depths=(165,), directory=str(tmp_path)).check()
    assert info.value.option == "depths" and info.value.value == 165
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("old", ["keras_procrustes.train", "keras_procrustes.tune",
                                 "keras_procrustes.tuning", "keras_procrustes.callbacks"])
def test_the_root_shims_deprecated_in_0_4_0_are_gone(old):
    # CHANGELOG 0.4.0 deprecated them for one release; 0.5.0 removes them.
    sys.modules.pop(old, None)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)


def test_old_hypermodel_name_warns():
    from keras_procrustes.training.search import hypermodel as hypermodels

    with pytest.warns(FutureWarning, match="ProcrustesResNetHyperModel"):
        assert hypermodels.ProcResNetHyperModel is hypermodels.ProcrustesResNetHyperModel


@pytest.mark.parametrize("old, name, new", [
    ("keras_procrustes.training.tuning", "ProcrustesResNetHyperModel",
     "keras_procrustes.training.search.hypermodel"),
    ("keras_procrustes.training.tensorboard", "RunTensorBoard",
     "keras_procrustes.training.callbacks.run_tensorboard"),
    ("keras_procrustes.training.stops", "CtrlCBetweenBatches",
     "keras_procrustes.training.callbacks.ctrl_c_between_batches"),
    ("keras_procrustes.training.search", "search", "keras_procrustes.training.search.driver"),
    ("keras_procrustes.training.callbacks", "singular_value_range",
     "keras_procrustes.training.callbacks.training_monitor"),
])
def test_names_moved_in_0_5_0_warn_at_their_old_paths(old, name, new):
    # CHANGELOG 0.5.0 (Deprecated): the old path gives the same object for one release.
    with pytest.warns(FutureWarning, match=rf"{old}\.{name} is deprecated: use {new}\.{name}"):
        found = getattr(importlib.import_module(old), name)
    assert found is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError):
        getattr(importlib.import_module(old), "no_such_name")


@pytest.mark.parametrize("value", [False, 0.0, -1])
def test_grad_norm_every_is_an_int_from_0(value):
    from keras_procrustes.training.config import check_fields

    with pytest.raises(OptionError) as info:
        check_fields(TrainingConfig(grad_norm_every=value))
    assert info.value.option == "grad_norm_every"
