"""Makes TensorFlow look uninstalled in this process, as on a GPU machine without it.

A path hook's finder that does not see the `tensorflow` package: `import
tensorflow` raises ModuleNotFoundError and `importlib.util.find_spec`
returns None, both as where TensorFlow is absent.
"""

import importlib.machinery
import sys

HIDDEN = frozenset({"tensorflow"})

_LOADERS = (
    (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
    (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES),
    (importlib.machinery.SourcelessFileLoader, importlib.machinery.BYTECODE_SUFFIXES),
)


class _FinderWithoutTensorFlow(importlib.machinery.FileFinder):
    def find_spec(self, fullname, target=None):
        if fullname.partition(".")[0] in HIDDEN:
            return None
        return super().find_spec(fullname, target)


def _path_hook(path):
    return _FinderWithoutTensorFlow(path or ".", *_LOADERS)


def install():
    """Hides TensorFlow for the rest of this process.

    Raises:
        RuntimeError: TensorFlow was imported before.
    """
    if "tensorflow" in sys.modules:
        raise RuntimeError("tensorflow was imported before the GPU suite hid it")
    file_hooks = [i for i, hook in enumerate(sys.path_hooks)
                  if "FileFinder" in getattr(hook, "__qualname__", "")]
    sys.path_hooks.insert(file_hooks[0] if file_hooks else len(sys.path_hooks), _path_hook)
    sys.path_importer_cache.clear()
