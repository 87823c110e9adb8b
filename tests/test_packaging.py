"""Packaging: `python -OO`, the extras' errors, the core wheel without TensorFlow."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import keras
import pytest

from keras_procrustes import optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE_CHECK = os.path.join(REPO, "tests", "children", "core_only_check.py")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="imports every module, whatever the backend: once, on TensorFlow")
def test_python_OO_imports_the_package():
    # -OO strips docstrings: nothing may build on them at import time.
    code = (
        "import keras_procrustes, keras_procrustes.cli.train, keras_procrustes.cli.tune\n"
        "from keras_procrustes import models\n"
        "assert models.resnet164.__doc__ is None\n"
        "print(keras_procrustes.__version__)"
    )
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, "-OO", "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    import keras_procrustes

    assert result.stdout.split() == [keras_procrustes.__version__]


def test_require_returns_the_module():
    import json as json_module

    assert optional.require("json", "train") is json_module


@pytest.mark.parametrize("name", ["kp_no_such_module", "kp_no_such_package.sub"])
def test_require_names_the_extra(name):
    with pytest.raises(optional.MissingExtraError) as info:
        optional.require(name, "figures")
    assert isinstance(info.value, ImportError)
    assert str(info.value) == (
        f"{name} is not installed; this part of keras_procrustes needs the [figures] "
        "extra: pip install '.[figures]' in a clone of keras-procrustes"
    )


def test_require_keeps_an_installed_module_s_own_import_error(tmp_path, monkeypatch):
    # The module is there; something it imports is not: not an extra's fault.
    (tmp_path / "kp_broken_module.py").write_text("import kp_its_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        optional.require("kp_broken_module", "train")
    assert not isinstance(info.value, optional.MissingExtraError)
    assert info.value.name == "kp_its_missing_dependency"


def test_require_refuses_an_unknown_extra():
    with pytest.raises(ValueError, match="extra='plots'"):
        optional.require("json", "plots")


def _run(command, **kwargs):
    result = subprocess.run([str(part) for part in command], capture_output=True,
                            text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def _wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(name).decode().splitlines()
    return [line.split(": ", 1) for line in lines if ": " in line and not line.startswith(" ")]


def _uv(*arguments):
    """Runs uv (the [test] extra's) with `arguments`."""
    return _run([sys.executable, "-m", "uv", "-q", *arguments])


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="a fresh venv and an install from the registry: run once, on the TensorFlow pass",
)
def test_core_wheel_runs_on_jax_without_tensorflow(tmp_path):
    # The wheel built from this tree, installed with jax[cpu] and nothing
    # else into a new venv (uv reaches the package registry; it builds and
    # installs in a fraction of pip's time).
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(os.path.join(REPO, name), source / name)
    shutil.copytree(os.path.join(REPO, "keras_procrustes"), source / "keras_procrustes",
                    ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    _uv("venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    _uv("build", "--python", sys.executable, "--wheel", "--out-dir", tmp_path / "wheels",
        source)
    (wheel,) = (tmp_path / "wheels").glob("*.whl")

    import keras_procrustes

    metadata = _wheel_metadata(wheel)
    assert ["Version", keras_procrustes.__version__] in metadata
    assert ["License-Expression", "Apache-2.0"] in metadata
    core = [value for key, value in metadata if key == "Requires-Dist" and "extra ==" not in value]
    assert core == ["keras>=3.9", "numpy>=1.26"]

    # No bytecode for every file of jax and jaxlib (uv's default); the check
    # compiles what it imports.
    _uv("pip", "install", "--python", python, wheel, "jax[cpu]")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    env.update(KERAS_BACKEND="jax", KERAS_HOME=str(tmp_path / "keras_home"))
    shutil.copy(CORE_CHECK, tmp_path / "core_only_check.py")
    result = _run([python, tmp_path / "core_only_check.py"], env=env, cwd=tmp_path)
    found = json.loads(result.stdout.strip().splitlines()[-1])

    assert not found["tensorflow_installed"]
    assert found["backend"] == "jax"
    assert found["version"] == found["metadata_version"] == keras_procrustes.__version__
    assert found["modules_loaded"] == []
    assert found["trainable_parameters"] == 878_714  # ProcrustesResNet-58, as in test_models
    assert found["prediction_shape"] == [2, 10]
    assert found["prediction_sums"] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert found["reload_max_difference"] < 1e-6
    count, smallest, largest = found["projected_singular_values"]
    assert count == 64 and smallest == pytest.approx(2**0.5, abs=1e-4)
    assert largest == pytest.approx(2**0.5, abs=1e-4)
    message = ("tensorflow is not installed; this part of keras_procrustes needs the "
               "[train] extra: pip install '.[train]' in a clone of keras-procrustes")
    for module in ("keras_procrustes.training", "keras_procrustes.data",
                   "keras_procrustes.training.search.hypermodel"):
        assert found["imports"][module] == ["MissingExtraError", message]

    command = subprocess.run([str(venv / "bin" / "keras-procrustes-train"), "--epochs", "1"],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert command.returncode == 2
    assert command.stderr.strip().splitlines() == [f"keras-procrustes-train: error: {message}"]
