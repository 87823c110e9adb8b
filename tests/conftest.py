"""Shared pytest configuration: the markers every test file may use, and CI's skip check.

CI runs every test but the `deep` ones (`-m "not deep"`); the markers let a
developer pick: `-m "not slow and not multiprocess"` for a quick pass,
`-m deep` for the deep presets through the harness.

Under `CI=true` a skip is allowed only for a stated backend limit
(`skip_check.py`, `skip_table.py`).
"""

import os
from importlib import metadata

import pytest
from packaging.version import Version

import skip_check


def pytest_configure(config):
    """Registers the project's markers; refuses a pytest on which groups split.

    Raises:
        pytest.UsageError: for `--dist loadgroup` with pytest 9.2 or newer and
            pytest-xdist 3.8 or older: pytest-xdist marks a grouped test by
            changing a node ID field that pytest 9.2 no longer reads
            (pytest-dev/pytest-xdist#1386), so a group's tests would spread
            over the workers and each would build the group's fixture again.
    """
    xdist = metadata.version("pytest-xdist")
    if config.getoption("dist", None) == "loadgroup" and (
            Version(pytest.__version__) >= Version("9.2") and Version(xdist) <= Version("3.8")):
        raise pytest.UsageError(
            f"--dist loadgroup does not group tests with pytest {pytest.__version__} and "
            f"pytest-xdist {xdist} (pytest-dev/pytest-xdist#1386): install 'pytest<9.2'")
    config.addinivalue_line(
        "markers", "slow: takes a minute or more (a wheel build, the GPU suite's dry run)"
    )
    config.addinivalue_line(
        "markers", "deep: a preset of depth 164 or more through the harness (CI leaves these out)"
    )
    config.addinivalue_line(
        "markers", "multiprocess: starts processes of its own (a job, replicas, other backends)"
    )
    config.addinivalue_line(
        "markers",
        "xdist_group(name): tests sharing a module-scoped fixture run on one pytest-xdist worker",
    )
    skip_check.pytest_configure(config)
    _graph_optimizer_off_if_asked(config)


def _graph_optimizer_off_if_asked(config):
    """With `TEST_TF_GRAPPLER=0` (CI), TensorFlow's graph optimizer is off where tests run.

    Grappler rewrites every traced function before its first call, and the
    in-process tests trace thousands of small ones (tests/test_models.py,
    test_scan.py, test_form2018.py, test_export.py and test_hub.py with -n 2,
    alternating: 221 and 204 s of CPU with it, 178 and 184 s without). The
    processes the tests start (the commands, tests/children) keep
    TensorFlow's defaults, as a user's run does; the tests pass either way.
    A pytest-xdist controller runs no test, and imports no backend.
    """
    controller = config.getoption("numprocesses", None) and not hasattr(config, "workerinput")
    if os.environ.get("TEST_TF_GRAPPLER") != "0" or controller:
        return
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
