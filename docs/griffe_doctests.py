"""A griffe extension: `Example:` sections written flush with their header.

The package's docstrings put `>>>` lines at the indentation of `Example:`
(what doctest and `help()` show well), and griffe's Google parser reads
`Example:` as an admonition whose Markdown body turns `>>>` into nested
block quotes. This renames the header to `Examples:` and indents its body
under it before the docstring is parsed, so the examples render as code.
"""

import re

import griffe

HEADER = re.compile(r"^(\s*)Examples?:\s*$")


def indent_examples(text):
    """`text` with the lines after an `Example:` header indented under it."""
    lines = text.split("\n")
    result = []
    body_indent = None
    for line in lines:
        header = HEADER.match(line)
        if header:
            body_indent = header.group(1)
            result.append(body_indent + "Examples:")  # griffe's section; "Example:" is an admonition
            continue
        if body_indent is not None:
            if not line.strip():
                body_indent = None
            elif line.startswith(body_indent) and not line.startswith(body_indent + " "):
                line = body_indent + "    " + line[len(body_indent):]
            else:
                body_indent = None
        result.append(line)
    return "\n".join(result)


class IndentExamples(griffe.Extension):
    """Indents flush `Example:` bodies of every loaded object's docstring."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = indent_examples(obj.docstring.value)
