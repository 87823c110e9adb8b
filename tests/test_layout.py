"""The package's imports form no circle, counting imports inside functions.

A circle that closes only through an import inside a function still ties
the modules together (neither can be understood or moved alone), so every
`import` statement counts. Read from the source with `ast`: no module is
imported, so this runs in a moment on any backend.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "keras_procrustes"

pytestmark = pytest.mark.skipif(
    __import__("keras").backend.backend() != "tensorflow",
    reason="reads the source: the same on every backend, run in the TensorFlow pass")


def _modules():
    """Module name -> file path, for every module of the package."""
    found = {}
    for folder, _, files in os.walk(os.path.join(ROOT, PACKAGE)):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[name.removesuffix(".__init__")] = path
    return found


def _imported(node, modules):
    """The package's modules one `import` / `from ... import` statement names."""
    def module_of(name):
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in modules else None

    if isinstance(node, ast.Import):
        return {module_of(alias.name) for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return {module_of(f"{node.module}.{alias.name}") for alias in node.names}
    return set()


def import_graph():
    """Module -> the package's modules it imports anywhere in its source."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        targets = set().union(*(_imported(node, modules) for node in ast.walk(tree)))
        graph[name] = targets - {name, None}
    return graph


def circles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_package_imports_form_no_circle():
    assert circles(import_graph()) == []


def test_a_circle_through_a_function_import_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from keras_procrustes.training import config\n")
    modules = {"keras_procrustes.training.config": "x"}
    assert set().union(*(_imported(n, modules) for n in ast.walk(tree))) == {
        "keras_procrustes.training.config"}
