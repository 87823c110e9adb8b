"""keras_procrustes.hub: backbones, classifiers and presets for KerasHub.

A run folder of a real (tiny) `fit` becomes a preset that keras-hub's base
`ImageClassifier.from_preset` loads and that predicts what `best.keras`
predicts on raw uint8 images; weights move from `models.get` by layer name;
the projections keep working after a preset round trip and `fit`; bad input
is refused in one line naming the file, with nothing written.
"""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")

from harness import trainable_count
from keras_procrustes import hub
from keras_procrustes import models
from keras_procrustes.cli import preset as preset_command
from keras_procrustes.models import PRESETS

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OTHER_BACKEND = {"tensorflow": "jax", "jax": "torch", "torch": "tensorflow"}


def _assert_same_predictions(got, want, what):
    """Within 1e-5 relative, and 1e-6 of the largest output absolute (underflowing ones)."""
    scale = float(np.max(np.abs(want)))
    shown = np.abs(want) >= 1e-2 * scale
    relative = float(np.max(np.abs(got - want)[shown] / np.abs(want)[shown]))
    print(f"{what} on {keras.backend.backend()}: max relative difference {relative:.2e} "
          f"(outputs >= 1% of the largest), max absolute {float(np.max(np.abs(got - want))):.2e}")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * scale)


def _uint8_images(shape, count=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, *shape)).astype("uint8")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from keras_procrustes.training import fit

    path = str(tmp_path_factory.mktemp("hub") / "run")
    fit("procresnet13_bottleneck", "fashion_mnist", epochs=1, max_train_examples=64,
        max_test_examples=32, batch_size=32, log_dir=path, verbose=0)
    return path


@pytest.fixture(scope="module")
def preset_dir(run_dir, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("hub") / "preset")
    assert preset_command.main([run_dir, path]) == 0
    return path


@pytest.mark.xdist_group("hub_run")
def test_run_preset_predicts_as_best_keras_through_the_base_class(run_dir, preset_dir):
    best = keras.saving.load_model(os.path.join(run_dir, "best.keras"))
    images = _uint8_images((28, 28, 1))
    classifier = keras_hub.models.ImageClassifier.from_preset(preset_dir)
    assert isinstance(classifier, hub.ProcrustesResNetImageClassifier)
    assert classifier.class_names[-1] == "Ankle boot"
    _assert_same_predictions(classifier.predict(images, verbose=0),
                             best.predict(images, verbose=0), "run -> preset -> predict")
    assert classifier.count_params() == best.count_params()


@pytest.mark.xdist_group("hub_run")
def test_model_card_names_the_run(run_dir, preset_dir):
    with open(os.path.join(preset_dir, "README.md")) as file:
        card = file.read()
    with open(os.path.join(run_dir, "metrics.json")) as file:
        metrics = json.load(file)
    for text in ("procresnet13_bottleneck", "arXiv:1805.07477", "Fashion-MNIST",
                 f"| best_test_error | {metrics['best_test_error']:.4g} |",
                 "keras-procrustes-train --dataset fashion_mnist --max-train-examples 64",
                 "--model procresnet13_bottleneck", hub.__name__.split(".")[0]):
        assert text in card, text


@pytest.mark.xdist_group("hub_run")
def test_cli_refuses_a_directory_of_other_files_and_writes_nothing(run_dir, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        preset_command.main([run_dir, str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(tmp_path) in err, err
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.xdist_group("hub_run")
def test_a_preset_of_this_package_is_replaced_not_added_to(run_dir, tmp_path):
    target = str(tmp_path / "preset")
    hub.save_run_as_preset(run_dir, target)
    os.remove(os.path.join(target, "task.weights.h5"))
    hub.save_run_as_preset(run_dir, target, class_names=list("abcdefghij"))
    assert "task.weights.h5" in os.listdir(target)
    assert not [name for name in os.listdir(tmp_path) if name != "preset"]  # no partial left
    classifier = keras_hub.models.ImageClassifier.from_preset(target)
    assert classifier.class_names == list("abcdefghij")


@pytest.mark.xdist_group("hub_run")
def test_a_users_files_in_a_preset_folder_are_kept_and_a_link_is_followed(run_dir, tmp_path):
    target = tmp_path / "preset"
    hub.save_run_as_preset(run_dir, str(target))
    (target / "assets").mkdir()
    (target / "assets" / "labels.txt").write_text("mine")  # not something we write
    with pytest.raises(hub.PresetError, match="not a keras_procrustes preset"):
        hub.save_run_as_preset(run_dir, str(target))
    assert (target / "assets" / "labels.txt").read_text() == "mine"
    shutil.rmtree(target / "assets")
    link = tmp_path / "latest"
    link.symlink_to(target)  # a link to the preset folder: the folder is replaced in place
    assert hub.save_run_as_preset(run_dir, str(link)) == str(link)
    assert link.is_symlink() and (target / "config.json").is_file()
    assert sorted(os.listdir(tmp_path)) == ["latest", "preset"]  # nothing left aside


@pytest.mark.xdist_group("hub_run")
def test_cli_says_in_one_line_that_the_preset_cannot_be_written(run_dir, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        preset_command.main([run_dir, str(tmp_path / "a_file" / "preset")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "a_file" in err, err


def test_an_old_run_folders_model_name_reads_as_it_meant():
    # Run folders from before the names changed meaning lack "model_names".
    from keras_procrustes.hub import run_preset

    old = {"options": {"model": "resnet56"}}
    assert run_preset.recorded_model(old) == "resnet56_baseline"
    new = {"options": {"model": "resnet56"}, "model_names": 2}
    assert run_preset.recorded_model(new) == "resnet56"
    assert run_preset.recorded_model({"options": {}}) is None


def _broken_run(run_dir, tmp_path, change):
    broken = tmp_path / "run"
    shutil.copytree(run_dir, broken, ignore=shutil.ignore_patterns("*.lock"))
    change(broken)
    return str(broken)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _other_family(path):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, name="predictions")])
    model.name = "plain"
    model.save(path)


RUN_DEFECTS = {
    "missing best.keras": (lambda run: (run / "best.keras").unlink(), "best.keras"),
    "truncated best.keras": (lambda run: _truncate(run / "best.keras"), "best.keras"),
    "truncated metrics.json": (lambda run: _truncate(run / "metrics.json"), "metrics.json"),
    "another family": (lambda run: _other_family(run / "best.keras"), "best.keras"),
}


@pytest.mark.xdist_group("hub_run")
@pytest.mark.parametrize("defect", sorted(RUN_DEFECTS))
def test_cli_names_the_bad_file_of_a_run(run_dir, tmp_path, capsys, defect):
    change, file_name = RUN_DEFECTS[defect]
    broken = _broken_run(run_dir, tmp_path, change)
    target = tmp_path / "out" / "preset"
    with pytest.raises(SystemExit) as exit_info:
        preset_command.main([broken, str(target)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert os.path.join(broken, file_name) in err, err
    assert not (tmp_path / "out").exists()


def _newer_format(preset):
    config = json.loads((preset / "config.json").read_text())
    config["config"]["format_version"] = hub.FORMAT_VERSION + 1
    (preset / "config.json").write_text(json.dumps(config))


PRESET_DEFECTS = {
    "missing config.json": (lambda p: (p / "config.json").unlink(), "config.json"),
    "truncated weights": (lambda p: _truncate(p / "model.weights.h5"), "model.weights.h5"),
    "truncated task.json": (lambda p: _truncate(p / "task.json"), "task.json"),
    "newer format": (_newer_format, "config.json"),
}


@pytest.mark.xdist_group("hub_run")
@pytest.mark.parametrize("defect", sorted(PRESET_DEFECTS))
def test_from_preset_names_the_bad_file(preset_dir, tmp_path, defect):
    change, file_name = PRESET_DEFECTS[defect]
    broken = tmp_path / "preset"
    shutil.copytree(preset_dir, broken)
    change(broken)
    with pytest.raises(hub.PresetError, match=str(broken / file_name)) as error:
        hub.ProcrustesResNetImageClassifier.from_preset(str(broken))
    assert len(str(error.value).splitlines()) == 1


def test_from_preset_refuses_a_preset_of_another_family(tmp_path):
    other = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64],
        stackwise_num_blocks=[1], stackwise_num_strides=[1], block_type="basic_block",
        image_shape=(16, 16, 3))
    other.save_to_preset(str(tmp_path))
    with pytest.raises(hub.PresetError, match="ResNetBackbone.*not of a Procrustes ResNet"):
        hub.ProcrustesResNetBackbone.from_preset(str(tmp_path))


@pytest.mark.parametrize("cls", ["ProcrustesResNetImageClassifier", "ProcrustesResNetBackbone"])
def test_a_registry_name_without_weights_says_what_to_do(cls):
    with pytest.raises(hub.PresetError) as error:
        getattr(hub, cls).from_preset("procresnet166")
    message = str(error.value)
    assert len(message.splitlines()) == 1
    assert "No weights are published for 'procresnet166'" in message
    assert "ProcrustesResNetBackbone('procresnet166')" in message
    assert "save_run_as_preset" in message


@pytest.mark.parametrize("name", ["procresnet10_basic", "resnet8_basic_baseline",
                                  "procresnet8_basic_2018"])
def test_weights_of_models_get_move_by_name_with_the_same_predictions(name):
    keras.utils.set_random_seed(1)
    model = models.get(name, input_shape=(16, 16, 3), classes=5, classifier_activation=None,
                       preprocessing_mean=[120.0, 110.0, 100.0],
                       preprocessing_std=[60.0, 55.0, 50.0])
    model.compile(keras.optimizers.SGD(0.1),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    images = _uint8_images((16, 16, 3), count=4)
    model.fit(images.astype("float32"), np.arange(4) % 5, epochs=1, verbose=0)
    classifier = hub.classifier_from_model(model)
    assert classifier.count_params() == model.count_params()
    assert [w.name for w in classifier.weights] == [w.name for w in model.weights]
    _assert_same_predictions(classifier.predict(images, verbose=0),
                             model.predict(images, verbose=0), name)


def _transition_singular_values(classifier, name):
    kernel = keras.ops.convert_to_numpy(classifier.backbone.get_layer(name).kernel)
    return np.linalg.svd(kernel[0, 0], compute_uv=False)


def test_projections_survive_the_preset_and_keep_projecting_under_fit(tmp_path):
    backbone = hub.ProcrustesResNetBackbone("procresnet10_basic", image_shape=(16, 16, 3),
                                            projection_probability=1.0)
    preprocessor = hub.ProcrustesResNetImageClassifierPreprocessor(
        hub.ProcrustesResNetImageConverter((16, 16)))
    hub.ProcrustesResNetImageClassifier(backbone, 3, preprocessor).save_to_preset(str(tmp_path))
    classifier = keras_hub.models.ImageClassifier.from_preset(str(tmp_path))
    before = keras.ops.convert_to_numpy(classifier.backbone.get_layer("transition1").kernel)
    classifier.compile(optimizer=keras.optimizers.SGD(0.5))
    classifier.fit(_uint8_images((16, 16, 3), count=8), np.arange(8) % 3, batch_size=4,
                   verbose=0)
    after = keras.ops.convert_to_numpy(classifier.backbone.get_layer("transition1").kernel)
    assert np.max(np.abs(after - before)) > 1e-3  # fit moved it
    for name in ("transition1", "transition2"):  # 16 -> 32 and 32 -> 64 channels
        np.testing.assert_allclose(_transition_singular_values(classifier, name),
                                   np.sqrt(2.0), rtol=1e-4)


def test_backbone_pyramid_outputs_are_the_stages():
    backbone = hub.ProcrustesResNetBackbone("procresnet10_basic", image_shape=(16, 16, 3))
    features = keras.Model(backbone.inputs, backbone.pyramid_outputs)
    shapes = {key: tuple(value.shape) for key, value in features(np.zeros((1, 16, 16, 3))).items()}
    assert shapes == {"P0": (1, 16, 16, 16), "P1": (1, 8, 8, 32), "P2": (1, 4, 4, 64)}


# One preset of each form and block type on every backend; all of them in
# the TensorFlow pass (a count does not depend on the backend).
EVERY_BACKEND = {"procresnet22", "resnet20_baseline", "procresnet166", "resnet164_baseline",
                 "procresnet164_2018", "procresnet1003"}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_backbone_and_head_hold_the_parameters_of_models_get(name):
    if name not in EVERY_BACKEND and keras.backend.backend() != "tensorflow":
        pytest.skip("counted in the TensorFlow pass")
    # Scanned stages build in about the same time at any depth; PRESETS'
    # counts are those of models.get (tests/test_presets.py asserts them).
    backbone = hub.ProcrustesResNetBackbone(name, scan=True)
    classifier = hub.ProcrustesResNetImageClassifier(backbone, 10)
    print(f"{name}: backbone {trainable_count(backbone):,} + head "
          f"{trainable_count(classifier) - trainable_count(backbone):,}")
    assert trainable_count(classifier) == PRESETS[name]["parameters"][10]


@pytest.mark.multiprocess
def test_a_preset_written_on_another_backend_predicts_the_same(tmp_path):
    other = OTHER_BACKEND[keras.backend.backend()]
    script = (
        "import numpy as np, keras\n"
        "from keras_procrustes import hub\n"
        "keras.utils.set_random_seed(3)\n"
        "backbone = hub.ProcrustesResNetBackbone('procresnet8_basic_2018', image_shape=(16, 16, 3))\n"
        "converter = hub.ProcrustesResNetImageConverter((16, 16), mean=[100.0] * 3, std=[50.0] * 3)\n"
        "classifier = hub.ProcrustesResNetImageClassifier(backbone, 4, "
        "hub.ProcrustesResNetImageClassifierPreprocessor(converter))\n"
        "images = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3)).astype('uint8')\n"
        f"classifier.save_to_preset({str(tmp_path / 'preset')!r})\n"
        f"np.save({str(tmp_path / 'want.npy')!r}, classifier.predict(images, verbose=0))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": other, "PYTHONPATH": ROOT}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300,
                   capture_output=True)
    classifier = keras_hub.models.ImageClassifier.from_preset(str(tmp_path / "preset"))
    images = _uint8_images((16, 16, 3))
    _assert_same_predictions(classifier.predict(images, verbose=0),
                             np.load(tmp_path / "want.npy"), f"preset written on {other}")
