"""Names that moved in 0.5.0, still found at their old paths until 0.6.0, with a warning."""

import importlib
import warnings


def moved_names(old_module, new_modules):
    """A module `__getattr__` giving each moved name from its new module.

    Args:
        old_module: the module the names were in (its `__name__`).
        new_modules: `{name: "its.new.module"}`.

    Returns:
        A function for the old module's `__getattr__`: it warns
        `FutureWarning` and returns the name from its new module, and raises
        `AttributeError` for any other name.
    """
    def __getattr__(name):
        if name not in new_modules:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        warnings.warn(f"{old_module}.{name} is deprecated: use {new_modules[name]}.{name} "
                      "(the old path goes in 0.6.0)", FutureWarning, stacklevel=2)
        return getattr(importlib.import_module(new_modules[name]), name)

    return __getattr__
