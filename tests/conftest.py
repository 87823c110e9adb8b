"""Shared pytest configuration: the markers every test file may use.

CI runs every test, marked or not; the markers let a developer pick:
`-m "not slow and not multiprocess"` for a quick pass.
"""


def pytest_configure(config):
    """Registers the project's markers."""
    config.addinivalue_line(
        "markers", "slow: takes a minute or more (a wheel build, the GPU suite's dry run)"
    )
    config.addinivalue_line(
        "markers", "multiprocess: starts processes of its own (a job, replicas, other backends)"
    )
    config.addinivalue_line(
        "markers",
        "xdist_group(name): tests sharing a module-scoped fixture run on one pytest-xdist worker",
    )
