"""Under `CI=true`, a skip that is not a stated backend limit fails the session.

CI's machine has every data set, extra, mount and network a test needs, so
there a skip for a missing one would turn a break into a pass. The check
counts the skips by reason (with pytest-xdist, on the controller, which
sees every worker's reports) and compares them with `skip_table.SKIPS`.
`tests/conftest.py` registers it; another pytest run loads it with
`-p skip_check`. The controller learns the backend from the workers, so
it starts them without importing Keras itself (a TensorFlow, JAX and torch
import, seconds before any worker starts).
"""

import collections
import os

import pytest

import skip_table


def pytest_configure(config):
    """Registers a `SkipCheck` for this run; a pytest-xdist worker instead
    sends its Keras backend to the controller's."""
    if hasattr(config, "workerinput"):
        config.workeroutput["keras_backend"] = keras_backend()
    elif not config.pluginmanager.has_plugin("skip-check"):
        config.pluginmanager.register(SkipCheck(), "skip-check")


def keras_backend():
    """The backend Keras runs on in this process (imports Keras)."""
    import keras

    return keras.backend.backend()


def skip_reason(report):
    """A skipped test report's reason, without pytest's `Skipped: ` prefix."""
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, (tuple, list)) else str(longrepr)
    return reason.removeprefix("Skipped: ")


# CI's selection (`.ci/run`): every test but the deep presets' harness
# tests, which skip nothing, so the skip counts are those of the whole suite.
CI_MARKEXPR = "not deep"


def is_whole_suite(config):
    """Whether every test was selected: no paths, `-k`, `-m` but CI's, or `--deselect`."""
    return (config.args_source == pytest.Config.ArgsSource.TESTPATHS
            and not config.option.keyword and config.option.markexpr in ("", CI_MARKEXPR)
            and not config.option.deselect)


class SkipCheck:
    """Counts a run's skips by reason and, under `CI=true`, checks them."""

    def __init__(self):
        self.skipped = collections.Counter()
        self.problems = []
        self.backend = None  # a worker's, under pytest-xdist

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        """Keeps the backend a pytest-xdist worker ran on (a worker that died sent none)."""
        self.backend = getattr(node, "workeroutput", {}).get("keras_backend", self.backend)

    def pytest_runtest_logreport(self, report):
        """Counts a skip (a worker's report too, on the controller)."""
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skipped[skip_reason(report)] += 1

    def pytest_sessionfinish(self, session):
        """Fails a passing session whose skips the table does not allow."""
        if os.environ.get("CI") != "true":
            return
        self.problems = skip_table.compare(self.backend or keras_backend(), self.skipped,
                                           is_whole_suite(session.config))
        if self.problems and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        """Prints what the check found."""
        if self.problems:
            terminalreporter.section("skips CI does not allow (tests/skip_table.py)", red=True)
            for line in self.problems:
                terminalreporter.line(line, red=True)
