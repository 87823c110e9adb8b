"""Names, presets and the registry: one name, one architecture."""

import contextlib
import os
import re
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

import harness
from keras_procrustes import models
from keras_procrustes.models import names

PRESETS = sorted(models.PRESETS)
# The paper's 2018 form has its own names (`procresnet164_2018`) and builder.
FORM_2018 = {n for n, p in models.PRESETS.items() if p.get("form") == "2018"}


def _structure(model, head=True):
    """What makes an architecture: names, layer types and weight shapes."""
    return model.name, [
        (layer.name, type(layer).__name__, [tuple(w.shape) for w in layer.weights])
        for layer in model.layers
        if layer.__class__.__name__ != "InputLayer" and (head or layer.name != "predictions")
    ]


# Presets whose name built a bottleneck net under the old names.
CHANGED_PRESETS = {"procresnet22", "procresnet112"}


def test_every_family_of_the_table_has_its_builder():
    from keras_procrustes.models.resnet import FAMILY_BUILDERS

    assert {preset["builder"] for preset in models.PRESETS.values()} == set(FAMILY_BUILDERS) | {
        "procresnet_2018"}
    for builder in FAMILY_BUILDERS:
        assert getattr(models, builder) is FAMILY_BUILDERS[builder]


def test_only_the_presets_that_changed_meaning_warn():
    changed = {n for n in PRESETS if n not in FORM_2018
               and names.meaning_change(n, names.parse(n))}
    assert changed == CHANGED_PRESETS


@contextlib.contextmanager
def _only_changed_names_warn(name):
    """A `ModelNameWarning` fails the test, but for a preset whose name changed meaning."""
    with warnings.catch_warnings():
        action = "ignore" if name in CHANGED_PRESETS else "error"
        warnings.simplefilter(action, models.ModelNameWarning)
        yield


def _check_the_builder_builds_it(name, by_name, **options):
    """The preset's builder (100 classes) builds what its name built, but the classifier."""
    preset = models.PRESETS[name]
    by_builder = getattr(models, preset["builder"])(**preset["arguments"], classes=100, **options)
    assert by_name.name == by_builder.name == name
    assert harness.trainable_count(by_builder) == preset["parameters"][100]
    assert _structure(by_name, head=False) == _structure(by_builder, head=False)
    assert by_builder.output_shape == (None, 100)
    assert models.canonical_name(name) == name  # the grammar agrees
    if name not in FORM_2018:
        assert names.format_name(*names.parse(name)) == name  # the grammar agrees


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=[pytest.mark.slow, pytest.mark.deep]) if harness.is_deep(name)
    else name for name in models.list_models()])
def test_every_preset_passes_the_harness(name):
    # Its count, `.keras` round trip and pyramid, then its builder's count.
    with _only_changed_names_warn(name):
        by_name = harness.run_preset_test(name)
    _check_the_builder_builds_it(name, by_name, input_shape=harness.PRESET_INPUT_SHAPE)


# The shallowest deep preset of each form on every backend; the deeper ones
# in the TensorFlow pass (a count does not depend on the backend, and the
# harness builds every shallow preset on every backend). On the JAX pass
# the seven deeper ones took 26 s of CI's time.
DEEP_ON_EVERY_BACKEND = {"procresnet166", "resnet164_baseline", "procresnet164_2018"}


@pytest.mark.parametrize("name", [name for name in PRESETS if harness.is_deep(name)])
def test_a_deep_presets_name_and_its_builder_build_the_counted_net(name):
    # CI leaves the deep presets out of the harness; their counts it checks
    # here, in two builds a preset (ResNet-1001 builds in about 2 s).
    if name not in DEEP_ON_EVERY_BACKEND and keras.backend.backend() != "tensorflow":
        pytest.skip("counted in the TensorFlow pass")
    with _only_changed_names_warn(name):
        by_name = models.get(name)
    assert harness.trainable_count(by_name) == models.PRESETS[name]["parameters"][10]
    assert by_name.output_shape == (None, 10)
    _check_the_builder_builds_it(name, by_name)


def test_the_table_holds_the_authors_exact_counts():
    # Counted on the authors' public PyTorch classes (Zaeemzadeh, Rahnavard
    # & Shah, TPAMI 2020) and by hand; 100 classes add 23,130 (a 256-wide head).
    authors = {"procresnet166": 1_715_018, "procresnet1003": 10_339_466}
    for name, count in authors.items():
        preset = models.PRESETS[name]
        assert preset["parameters_from"] == "authors_code"
        assert preset["parameters"] == {10: count, 100: count + 23_130}
    from_authors = {n for n, p in models.PRESETS.items() if p["parameters_from"] == "authors_code"}
    assert from_authors == set(authors)


def _meaning_in_0_1_0(name):
    """What a name built in package 0.1.0, spelled now (its registry rule,
    restated here independently of the package): `resnet56` and
    `procresnet58` basic nets, any other `resnet{9n+2}` a bottleneck
    baseline and `procresnet{9n+4}` a bottleneck Procrustes net."""
    explicit = {"resnet56": "resnet56_baseline", "procresnet58": "procresnet58"}
    if name in explicit:
        return explicit[name]
    match = re.fullmatch(r"(proc)?resnet([0-9]+)", name)
    if not match:
        return None
    depth = int(match.group(2)) - (2 if match.group(1) else 0)
    if depth <= 2 or (depth - 2) % 9:
        return None
    suffix = "" if depth in (164, 272, 632, 1001) else "_bottleneck"
    return f"procresnet{depth + 2}{suffix}" if match.group(1) else f"resnet{depth}{suffix}_baseline"


def test_the_renamed_names_are_those_whose_meaning_changed():
    builders = [preset["builder"] for preset in models.PRESETS.values()]
    changed = {}
    for name in set(PRESETS) | set(builders):
        old = _meaning_in_0_1_0(name)
        if old is not None and old != models.canonical_name(name):
            changed[name] = old
    assert names.RENAMED_MODELS == changed
    for old, new in names.RENAMED_MODELS.items():
        assert names.meaning_change(old, names.parse(old)).endswith(f"say '{new}' for that.")


@pytest.mark.parametrize("recorded, now", [
    ("resnet164", "resnet164_baseline"), ("procresnet22", "procresnet22_bottleneck"),
    ("procresnet13", "procresnet13_bottleneck"), ("resnet11", "resnet11_bottleneck_baseline"),
    ("procresnet166", "procresnet166"), ("procresnet58", "procresnet58"),
    ("resnet32", "resnet32"), ("procresnet41", "procresnet41"), ("mlp", "mlp"),
])
def test_an_old_run_folders_model_name_reads_as_its_new_spelling(recorded, now):
    assert names.legacy_canonical_name(recorded) == now
    old = _meaning_in_0_1_0(recorded)
    if old is not None:
        assert now == old


@pytest.mark.parametrize("builder", ["resnet32", "resnet44", "resnet164"])
def test_a_builders_name_builds_what_the_builder_builds(builder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", models.ModelNameWarning)  # resnet164 changed
        by_name = models.get(builder)
    assert _structure(by_name) == _structure(getattr(models, builder)())
    assert by_name.name == f"procresnet{int(builder[6:]) + 2}"
    if builder == "resnet32":
        assert models.get(builder, procrustes=False).name == "resnet32_baseline"


@pytest.mark.parametrize("old, builds, meant", [
    ("resnet164", "procresnet166", "resnet164_baseline"),
    ("resnet56", "procresnet58", "resnet56_baseline"),
    ("resnet20", "procresnet22", "resnet20_bottleneck_baseline"),
    ("resnet110", "procresnet112", "resnet110_bottleneck_baseline"),
    ("procresnet22", "procresnet22", "procresnet22_bottleneck"),
])
def test_a_name_that_changed_meaning_warns_and_builds_what_it_says(old, builds, meant):
    with pytest.warns(models.ModelNameWarning, match=f"now builds .*'{builds}'.*say '{meant}'"):
        model = models.get(old, input_shape=(8, 8, 3))
    assert model.name == builds
    assert harness.trainable_count(model) == models.PRESETS[builds]["parameters"][10]
    with warnings.catch_warnings():
        warnings.simplefilter("error", models.ModelNameWarning)
        assert models.get(meant, input_shape=(8, 8, 3)).name == meant


def test_a_depth_without_block_type_that_changed_meaning_warns():
    with pytest.warns(models.ModelNameWarning, match="block_type='bottleneck'"):
        model = models.resnet(56, input_shape=(8, 8, 3))
    assert model.name == "procresnet58" and model.get_layer("stage1_block1").block_type == "basic"
    with warnings.catch_warnings():
        warnings.simplefilter("error", models.ModelNameWarning)
        models.resnet(56, "basic", input_shape=(8, 8, 3))
        models.resnet(164, input_shape=(8, 8, 3))


@pytest.mark.parametrize("name, message", [
    ("procresnet13", "needs a block type.*say 'procresnet13_bottleneck'"),
    ("resnet11", "say 'resnet11_bottleneck_baseline'"),
    ("resnet50", r"name='resnet50'.*Presets: resnet20_baseline, procresnet22"),
    ("resnet11_bottleneck", "'procresnet13_bottleneck' or 'resnet11_bottleneck_baseline'"),
    ("procresnet167_bottleneck", "9n\\+2.*165 is not"),
    ("procresnet166_baseline", "not a baseline"),
])
def test_unknown_names_are_refused_with_what_to_say(name, message):
    with pytest.raises(models.UnknownModelName, match=message):
        models.get(name)


def test_a_fixed_form_takes_no_other_form():
    with pytest.raises(ValueError, match="procrustes=False.*'resnet164_baseline'"):
        models.get("procresnet166", procrustes=False)
    model = models.get("resnet20_baseline", procrustes=False, input_shape=(8, 8, 3))
    assert model.name == "resnet20_baseline"


def test_any_depth_with_its_block_type():
    model = models.get("procresnet13_bottleneck", input_shape=(8, 8, 3), classes=3)
    assert model.name == "procresnet13_bottleneck"
    assert model.get_layer("stage1_block1").block_type == "bottleneck"
    baseline = models.get("resnet38_basic_baseline", input_shape=(8, 8, 3))
    stage3 = [layer.name for layer in baseline.layers if layer.name.startswith("stage3_block")]
    assert stage3[-1] == "stage3_block6"


def test_list_models_filters_with_fnmatch_patterns():
    assert models.list_models() == PRESETS
    procrustes = models.list_models("procresnet*", exclude_filters="*_2018")
    assert len(procrustes) == 9
    assert all(models.PRESETS[name]["arguments"]["procrustes"] for name in procrustes)
    assert models.list_models(["resnet1*_baseline", "procresnet5?"]) == [
        "procresnet58", "resnet1001_baseline", "resnet110_baseline", "resnet164_baseline"]
    assert models.list_models("*_baseline", exclude_filters=["resnet[1-4]*"]) == [
        "resnet56_baseline", "resnet632_baseline"]
    assert models.list_models("resnet16?") == []  # builder names are not presets
    assert models.list_models(pretrained=True) == []  # no published weights yet


@pytest.mark.parametrize("kwargs, message", [
    ({"filter": 5}, "filter=5"),
    ({"filter": ["procresnet*", 5]}, r"filter=\['procresnet\*', 5\]"),
    ({"exclude_filters": 3.0}, "exclude_filters=3.0"),
])
def test_list_models_names_a_filter_that_is_not_patterns(kwargs, message):
    with pytest.raises(TypeError, match=message):
        models.list_models(**kwargs)


def test_weights_from_a_path_give_the_same_predictions(tmp_path):
    options = dict(input_shape=(8, 8, 3), classes=3)
    model = models.get("procresnet34", **options)
    x = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype("float32")
    model.predict(x, verbose=0)
    path = os.path.join(tmp_path, "p34.weights.h5")
    model.save_weights(path)
    loaded = models.get("procresnet34", weights=path, **options)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


@pytest.mark.parametrize("weights, message", [
    ("procresnet166", "No weights are published for the preset weights='procresnet166'. "
                      "Presets with weights: none yet"),
    ("procresnet999", "weights='procresnet999': no such file, and not a preset "
                      r"\(presets: resnet20_baseline, procresnet22, .*; with weights: none yet"),
    ("/no/such/file.weights.h5", "weights='/no/such/file.weights.h5'"),
])
def test_unusable_weights_are_named(weights, message):
    with pytest.raises(ValueError, match=message):
        models.resnet164(weights=weights)


@pytest.mark.parametrize("fname, message", [
    ("x.weights.h5", "is not a weights file: a `.weights.h5` file is an HDF5 file"),
    ("x.keras", "is not a weights file: a `.keras` file is a zip archive"),
    ("x.txt", "is not a weights file: its name must end in"),
])
def test_a_file_that_is_not_weights_is_named(tmp_path, fname, message):
    path = os.path.join(tmp_path, fname)
    with open(path, "w") as f:
        f.write("not weights\n")
    with pytest.raises(ValueError, match="weights='" + re.escape(path) + "' " + re.escape(message)):
        models.get("procresnet34", weights=path, input_shape=(8, 8, 3), classes=3)


def test_a_folder_as_weights_is_named(tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"weights={str(tmp_path)!r}: a folder")):
        models.get("procresnet34", weights=str(tmp_path), input_shape=(8, 8, 3), classes=3)


@pytest.mark.parametrize("other", [
    dict(name="procresnet34", classes=10),
    dict(name="resnet20_baseline", classes=3),
])
def test_weights_of_another_model_are_named(tmp_path, other):
    name = other.pop("name")
    path = os.path.join(tmp_path, "other.weights.h5")
    models.get(name, input_shape=(8, 8, 3), **other).save_weights(path)
    with pytest.raises(ValueError, match=re.escape(f"weights={path!r} do not fit")) as info:
        models.get("procresnet34", weights=path, input_shape=(8, 8, 3), classes=3)
    assert "another architecture or class count" in str(info.value)
    assert info.value.__cause__ is not None


PUBLISHED_WEIGHTS = """
import hashlib, sys
import numpy as np
from keras_procrustes import models
path, loaded_path = sys.argv[1], sys.argv[2]
digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
models.PRESETS["procresnet34"]["weights"] = {"origin": "file://" + path, "file_hash": digest}
assert models.list_models(pretrained=True) == ["procresnet34"]
model = models.get("procresnet34", weights="procresnet34", input_shape=(8, 8, 3), classes=3)
np.savez(loaded_path, *model.get_weights())
try:
    models.resnet20(weights="procresnet34")
except ValueError as error:
    print(error)
"""


def test_a_presets_published_weights_are_fetched_and_checked(tmp_path):
    # In a child process: its Keras home (KERAS_HOME, read at import) is
    # tmp_path, where keras.utils.get_file caches the weights it fetches.
    # The child's model must hold exactly the published weights (its
    # predictions would be compared across two processes, whose TensorFlow
    # may optimize the graph differently: tests/conftest.py).
    model = models.get("procresnet34", input_shape=(8, 8, 3), classes=3)
    weights, loaded = str(tmp_path / "published.weights.h5"), str(tmp_path / "loaded.npz")
    model.save_weights(weights)
    env = dict(os.environ, KERAS_HOME=str(tmp_path / "home"), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", PUBLISHED_WEIGHTS, weights, loaded],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert os.path.exists(tmp_path / "home" / "keras_procrustes" / "procresnet34.weights.h5")
    with np.load(loaded) as arrays:
        got = [arrays[f"arr_{index}"] for index in range(len(arrays.files))]
    expected = model.get_weights()
    assert len(got) == len(expected)
    for index, (value, want) in enumerate(zip(got, expected)):
        np.testing.assert_array_equal(value, want, err_msg=f"weight {index}")
    assert "weights='procresnet34' are that preset's; this model is 'procresnet22'" in result.stdout
