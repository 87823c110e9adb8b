"""CI's documentation step (`.ci/docs`) fails on any warning.

A copy of the site's sources with two faults, each a warning of its own
kind: a link to a page that does not exist, and a docstring documenting an
argument its signature does not have. The step must exit non-zero and name
both, so a warning can't pass CI unseen (as it did under `--quiet`).
"""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(
    __import__("keras").backend.backend() != "tensorflow",
    reason="runs in the TensorFlow pass: the site does not depend on the backend")


def _copy_sources(destination):
    for name in ("mkdocs.yml", "README.md", ".ci", "docs", "keras_procrustes"):
        source = os.path.join(ROOT, name)
        if os.path.isdir(source):
            shutil.copytree(source, destination / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, destination / name)


def _append(path, text):
    with open(path, "a") as handle:
        handle.write(text)


def test_the_docs_step_fails_on_a_broken_link_and_a_bad_docstring(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    _copy_sources(sources)
    _append(sources / "docs" / "index.md", "\nSee [a page](no_such_page.md).\n")
    layer = sources / "keras_procrustes" / "layers" / "channel_duplication.py"
    text = layer.read_text()
    marker = "    Example:\n"
    assert marker in text
    layer.write_text(text.replace(
        marker, "    Args:\n        no_such_argument: documented, not in the signature.\n\n"
        + marker, 1))

    result = subprocess.run(["bash", str(sources / ".ci" / "docs"), str(tmp_path / "site")],
                            capture_output=True, text=True, timeout=300)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "no_such_page.md" in output, output
    assert "no_such_argument" in output, output
    assert "Aborted with 2 warnings in strict mode" in output, output


API_PAGES = {"models": "models.md", "layers": "layers.md", "diagnostics": "diagnostics.md",
             "spectral": "spectral.md", "training": "training.md", "data": "data.md",
             "hub": "hub.md", "training.callbacks": "callbacks.md"}


@pytest.mark.parametrize("package", sorted(API_PAGES))
def test_every_public_name_is_on_its_api_page(package):
    # Each name of the package's __all__ is rendered from the module that
    # defines it: `::: keras_procrustes.training.fit.fit`, since the package
    # path `keras_procrustes.training.fit` is the submodule to mkdocstrings.
    import importlib

    module = importlib.import_module(f"keras_procrustes.{package}")
    with open(os.path.join(ROOT, "docs", "api", API_PAGES[package])) as handle:
        paths = [line[4:].strip() for line in handle if line.startswith("::: ")]
    rendered = {}
    for path in paths[1:]:
        module_path, name = path.rsplit(".", 1)
        rendered[name] = getattr(importlib.import_module(module_path), name)
    assert paths[0] == f"keras_procrustes.{package}"
    missing = [name for name in module.__all__ if name not in rendered]
    assert not missing, f"docs/api/{API_PAGES[package]} lacks {missing}"
    for name in module.__all__:
        assert rendered[name] is getattr(module, name), name
