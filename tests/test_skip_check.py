"""Under CI=true a skip for a missing data set, extra, mount or network fails the run."""

import itertools
import os

import keras
import pytest

import skip_check
import skip_table

BACKEND = keras.backend.backend()
# The skip the table allows most often on this backend (more than once).
ALLOWED, ALLOWED_COUNT = max(skip_table.SKIPS[BACKEND].items(), key=lambda item: item[1])
FILE = "the test file"  # in `_run_inner`'s args: the file it writes
_NAMES = (f"inner{index}" for index in itertools.count())


def _run_inner(tmp_path, capsys, monkeypatch, body, *args):
    """Runs pytest in `tmp_path` on a new test file holding `body`; its exit code and output."""
    monkeypatch.chdir(tmp_path)  # the whole suite is then tmp_path's files only
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = .\n")
    path = tmp_path / f"test_{next(_NAMES)}.py"  # each run its own module name
    path.write_text("import pytest\n\n" + body)
    code = pytest.main(["-p", "skip_check", "-p", "no:cacheprovider", "-q",
                        "--import-mode=importlib", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                        "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"),
                        *[str(path) if arg == FILE else arg for arg in args]])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("body", [
    # What tests/test_train.py and the others do without the data set.
    '@pytest.mark.skipif(True, reason="needs Debian\'s dataset-fashion-mnist")\n'
    'def test_trains():\n    pass\n',
    # An extra not installed (tests/test_export.py's importorskip).
    'def test_exports():\n'
    '    pytest.importorskip("no_such_runtime", reason="the [export] extra installs it")\n',
    # A mount refused (tests/test_writers.py's full disk).
    'def test_full_disk():\n    pytest.skip("mount -t tmpfs is not allowed here")\n',
], ids=["data_set", "extra", "mount"])
def test_a_skip_for_a_missing_thing_fails_under_ci(tmp_path, capsys, monkeypatch, body):
    monkeypatch.setenv("CI", "true")
    code, out = _run_inner(tmp_path, capsys, monkeypatch, body, FILE)
    assert code == pytest.ExitCode.TESTS_FAILED, out
    assert f"not a stated limit on {BACKEND}: 1 skipped for" in out
    monkeypatch.setenv("CI", "false")  # a developer's machine may lack it
    code, out = _run_inner(tmp_path, capsys, monkeypatch, body, FILE)
    assert code == pytest.ExitCode.OK, out


def test_stated_limits_pass_and_their_counts_are_checked_on_a_whole_run(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.setenv("CI", "true")
    body = (f"@pytest.mark.skipif(True, reason={ALLOWED!r})\n"
            "def test_limited():\n    pass\n")
    code, out = _run_inner(tmp_path, capsys, monkeypatch, body, FILE)
    assert code == pytest.ExitCode.OK, out  # a file: an allowed reason, counts not compared
    suite = tmp_path / "suite"
    suite.mkdir()
    code, out = _run_inner(suite, capsys, monkeypatch, body)  # the whole suite (testpaths)
    assert code == pytest.ExitCode.TESTS_FAILED, out
    assert f"on {BACKEND}, 1 skipped for {ALLOWED!r}, tests/skip_table.py says {ALLOWED_COUNT}" \
        in out


def test_cis_selection_counts_as_the_whole_suite(tmp_path, capsys, monkeypatch):
    # .ci/run leaves the deep presets out with `-m`; the counts are still compared.
    with open(os.path.join(os.path.dirname(__file__), "..", ".ci", "run")) as run:
        assert f'-m "{skip_check.CI_MARKEXPR}"' in run.read()
    monkeypatch.setenv("CI", "true")
    body = (f"@pytest.mark.skipif(True, reason={ALLOWED!r})\n"
            "def test_limited():\n    pass\n")
    code, out = _run_inner(tmp_path, capsys, monkeypatch, body, "-m", skip_check.CI_MARKEXPR)
    assert code == pytest.ExitCode.TESTS_FAILED, out
    assert f"on {BACKEND}, 1 skipped for {ALLOWED!r}, tests/skip_table.py says {ALLOWED_COUNT}" \
        in out
    code, out = _run_inner(tmp_path, capsys, monkeypatch, body, "-m", "not slow")
    assert code == pytest.ExitCode.OK, out  # another selection: counts not compared
