"""Optional dependencies: imported by name, or an error naming the extra.

The core (`layers`, `constraints`, `models`, `spectral`, `diagnostics`)
needs only Keras, NumPy and a backend. The rest needs an extra:

- `train`: TensorFlow, tensorflow-datasets, TensorBoard (`data`,
  `training`, the commands);
- `tune`: keras-tuner and scikit-learn (hyperparameter search);
- `figures`: matplotlib (profile images, the figure recipes);
- `jax`: JAX, for `KERAS_BACKEND=jax`;
- `hub`: keras-hub (`keras_procrustes.hub`: backbones, classifiers and
  presets for KerasHub);
- `all`: every one of them.

Every optional import in the package goes through `require`.
"""

import importlib

PACKAGE = "keras-procrustes"

EXTRAS = ("train", "tune", "figures", "jax", "hub", "all")


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra."""


def require(module_name, extra):
    """Imports `module_name`, or says which extra of the package installs it.

    Only a missing module is turned into a `MissingExtraError`; an installed
    module that fails to import raises its own error.

    Args:
        module_name: the module to import, e.g. `"tensorflow"` or
            `"matplotlib.pyplot"`.
        extra: the extra that installs it, one of `EXTRAS`.

    Returns:
        The module.

    Raises:
        MissingExtraError: when the module (or a parent package) is not
            installed, naming the extra.
        ValueError: for an unknown extra.

    Example:
    >>> tf = require("tensorflow", "train")
    """
    if extra not in EXTRAS:
        raise ValueError(f"Unknown extra={extra!r}. Known: {', '.join(EXTRAS)}")
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if not _is_module_or_parent(error.name, module_name):
            raise
        raise MissingExtraError(
            f"{module_name} is not installed; this part of keras_procrustes "
            f"needs the [{extra}] extra: pip install '.[{extra}]' in a clone of {PACKAGE}"
        ) from error


def _is_module_or_parent(missing, module_name):
    """Whether the missing module `missing` is `module_name` or a parent."""
    return missing is not None and (
        missing == module_name or module_name.startswith(missing + ".")
    )
