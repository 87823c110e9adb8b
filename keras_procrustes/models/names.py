"""Model names: the one grammar (one name, one architecture) and the table of renamed names.

`D` is He et al.'s layer count of the baseline; the 2020 Procrustes form has
two more layers (the standalone transitions), the 2018 form the same count
(its transitions have no weights).

- `procresnet{D+2}`: the Procrustes form (`procresnet166`);
- `resnet{D}_baseline`: He et al.'s pre-activation ResNet-D
  (`resnet164_baseline`);
- `procresnet{D}_2018`: the paper's first (2018) form (`procresnet164_2018`);
- `resnet{D}`: the family's builder, `models.resnet164()`, which builds the
  Procrustes form unless given `procrustes=False`.

He et al.'s depths fix the block type: 20, 32, 44, 56, 110 are basic-block
nets, 164 and 1001 (and the authors' 272 and 632) bottleneck nets. Any other
depth names its block type: `procresnet13_bottleneck`,
`resnet38_basic_baseline`, `procresnet29_bottleneck_2018`.

`parse` reads every name, `format_name` writes one, `canonical_name` gives
what a name builds by default; the registry, the builders, the trainer and
the 2018 form all go through them.

Names that meant another architecture before this grammar (package 0.1.0)
are one table, `RENAMED_MODELS`, as timm's `register_model_deprecations`
keeps its renames: they build what they mean now, with a `ModelNameWarning`
that gives the new spelling of what they built. The old registry also read
any other `resnet{9n+2}` / `procresnet{9n+4}` as a bottleneck net; those names
no longer parse, and are refused with their new spelling. The warnings for
these names go in release 0.6.0 (CHANGELOG), the names then meaning only
what they mean now.
"""

import collections
import re

from keras_procrustes.checks import check_block_type
from keras_procrustes.checks import LAYERS_PER_BLOCK
from keras_procrustes.checks import STAGES
from keras_procrustes.checks import is_int
from keras_procrustes.models.presets import FAMILIES

# Old name -> the name, now, of what it built in package 0.1.0. Each old
# name still parses, and now means something else.
RENAMED_MODELS = {
    "resnet20": "resnet20_bottleneck_baseline",
    "resnet56": "resnet56_baseline",
    "resnet110": "resnet110_bottleneck_baseline",
    "resnet164": "resnet164_baseline",
    "resnet272": "resnet272_baseline",
    "resnet632": "resnet632_baseline",
    "resnet1001": "resnet1001_baseline",
    "procresnet22": "procresnet22_bottleneck",
    "procresnet112": "procresnet112_bottleneck",
}

# The forms a name can mean: the paper's 2020 form, He et al.'s baseline, the
# paper's 2018 form.
FORMS = ("2020", "baseline", "2018")

ModelName = collections.namedtuple("ModelName", ["depth", "block_type", "form"])
ModelName.__doc__ = """A parsed name: He et al.'s depth, the block type, the form (`FORMS`).

`form` is `None` for a family's builder name (`resnet164`), which builds
the 2020 form unless told `procrustes=False`.
"""

_NAME = re.compile(
    r"(?P<proc>proc)?resnet(?P<depth>[1-9][0-9]*)(?:_(?P<block>basic|bottleneck))?"
    r"(?P<baseline>_baseline)?(?P<form_2018>_2018)?"
)
_OLD_NAME = re.compile(r"(proc)?resnet([1-9][0-9]*)")


class ModelNameWarning(FutureWarning):
    """A model name, or a depth without a block type, changed meaning."""


class UnknownModelName(ValueError):
    """A name that means no architecture.

    Attributes:
        name: the name.
        reason: why, and how to spell what it meant under the old names.
    """

    def __init__(self, name, reason, known=""):
        self.name, self.reason = name, reason
        super().__init__(f"Model name={name!r}: {reason}." + (f" {known}" if known else ""))


def is_valid_depth(depth, block_type):
    """Whether `depth` is `3 * layers_per_block * n + 2` for a positive n."""
    per_stage = STAGES * LAYERS_PER_BLOCK[block_type]
    return is_int(depth) and depth > 2 and (depth - 2) % per_stage == 0


def family_block_type(depth, block_type=None):
    """`block_type`, or He et al.'s block for one of their depths (56: basic).

    Args:
        depth: He et al.'s layer count.
        block_type: `"bottleneck"`, `"basic"`, or `None` for He et al.'s.

    Returns:
        The block type.

    Raises:
        ValueError: for an unknown block type, or a depth outside the
            families without one (a ProcrustesResNet's count, two more than
            a family's, is named as such).
    """
    if block_type is not None:
        check_block_type(block_type)
        return block_type
    if depth not in FAMILIES:
        hint = ""
        if is_int(depth) and depth - 2 in FAMILIES:
            hint = (f" (ProcrustesResNet-{depth} is resnet({depth - 2}): depth "
                    "counts the baseline's layers)")
        raise ValueError(
            f"depth={depth} is not one of He et al.'s depths "
            f"({families_text()}): pass block_type='basic' (depth "
            f"6n+2) or 'bottleneck' (9n+2){hint}."
        )
    return FAMILIES[depth]


def format_name(depth, block_type, form):
    """The name of one architecture: `parse`'s inverse.

    Args:
        depth: He et al.'s layer count of the family (164).
        block_type: `"bottleneck"` or `"basic"`.
        form: one of `FORMS`.

    Returns:
        E.g. `"procresnet166"`, `"resnet164_baseline"`,
        `"procresnet13_bottleneck"`, `"procresnet164_2018"`.

    Raises:
        ValueError: for a form not in `FORMS`.
    """
    suffix = "" if FAMILIES.get(depth) == block_type else f"_{block_type}"
    if form == "2020":
        return f"procresnet{depth + 2}{suffix}"
    if form == "baseline":
        return f"resnet{depth}{suffix}_baseline"
    if form == "2018":
        return f"procresnet{depth}{suffix}_2018"
    raise ValueError(f"`form` must be one of {', '.join(FORMS)}. Received form={form!r}")


def describe(model_name):
    """`ProcrustesResNet-166 (bottleneck blocks)`, `He et al.'s ResNet-164 (...)`, ..."""
    depth, block_type, form = model_name
    blocks = f"({block_type} blocks)"
    if form == "2018":
        return f"ProcrustesResNet-{depth}, 2018 form {blocks}"
    if form == "baseline":
        return f"He et al.'s ResNet-{depth} {blocks}"
    return f"ProcrustesResNet-{depth + 2} {blocks}"


def families_text():
    """He et al.'s depths and their block types, for messages."""
    return ", ".join(f"{depth} {block}" for depth, block in sorted(FAMILIES.items()))


def _old_any_depth(name):
    """The new spelling of an old `resnet{9n+2}` / `procresnet{9n+4}` name
    outside the families (a bottleneck net), or `None`."""
    match = _OLD_NAME.fullmatch(str(name))
    if not match:
        return None
    procrustes = bool(match.group(1))
    depth = int(match.group(2)) - (2 if procrustes else 0)
    if depth in FAMILIES or not is_valid_depth(depth, "bottleneck"):
        return None
    return format_name(depth, "bottleneck", "2020" if procrustes else "baseline")


def _refusal(name, reason):
    old = _old_any_depth(name)
    if old is not None:
        reason += f"; it built {describe(parse(old))} before: say '{old}'"
    return UnknownModelName(name, reason)


def parse(name):
    """The architecture a name means.

    Args:
        name: a model name (see the module's docstring).

    Returns:
        A `ModelName`; `form` is `None` for a family's builder name.

    Raises:
        UnknownModelName: (a ValueError) for a name that does not parse; it
            says how to spell what the name meant before, if anything.
    """
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise _refusal(name, "not a model name")
    if match["form_2018"]:
        return _parse_2018(name, match)
    procrustes = bool(match["proc"])
    baseline = bool(match["baseline"])
    block_type = match["block"]
    depth = int(match["depth"]) - (2 if procrustes else 0)
    if procrustes and baseline:
        raise _refusal(name, "a Procrustes net is not a baseline")
    if block_type is None:
        if depth not in FAMILIES:
            raise _refusal(
                name, f"{depth} is not one of He et al.'s depths "
                f"({families_text()}), so the name needs a block type "
                "(e.g. '_bottleneck' after the depth)")
        block_type = FAMILIES[depth]
    elif not is_valid_depth(depth, block_type):
        per_stage = STAGES * LAYERS_PER_BLOCK[block_type]
        raise _refusal(
            name, f"a {block_type} ResNet has depth {per_stage}n+2 (its "
            f"Procrustes form {per_stage}n+4); {depth} is not")
    if not (procrustes or baseline):
        if match["block"] is not None:  # a family name is a builder's: no block
            raise _refusal(
                name, f"say '{format_name(depth, block_type, '2020')}' or "
                f"'{format_name(depth, block_type, 'baseline')}'")
        return ModelName(depth, block_type, None)
    return ModelName(depth, block_type, "2020" if procrustes else "baseline")


def _parse_2018(name, match):
    """`parse` of a name ending in `_2018` (`procresnet{D}[_block]_2018`)."""
    if not match["proc"] or match["baseline"]:
        raise UnknownModelName(name, "the 2018 form is spelled procresnet{D}_2018")
    depth = int(match["depth"])
    if match["block"] is None and depth not in FAMILIES:
        raise UnknownModelName(
            name, f"{depth} is not one of He et al.'s depths ({families_text()}), so the "
            "name needs a block type ('_basic' or '_bottleneck' before '_2018')")
    block_type = family_block_type(depth, match["block"])
    if not is_valid_depth(depth, block_type):
        per_stage = STAGES * LAYERS_PER_BLOCK[block_type]
        raise UnknownModelName(
            name, f"a {block_type} ResNet has depth {per_stage}n+2; {depth} is not")
    return ModelName(depth, block_type, "2018")


def canonical_name(name):
    """The preset-style name of what `name` builds by default, no warning.

    Args:
        name: a model name (`"resnet164"`, `"procresnet166"`, ...).

    Returns:
        E.g. `"procresnet166"` for `"resnet164"`.

    Raises:
        UnknownModelName: (a ValueError) naming an unknown name.
    """
    depth, block_type, form = parse(name)
    return format_name(depth, block_type, form or "2020")


def meaning_change(name, model_name):
    """The warning for an old name that built another architecture.

    Args:
        name: the name as given.
        model_name: `parse(name)`.

    Returns:
        The message, or `None` when the name means what it meant.
    """
    if name not in RENAMED_MODELS:
        return None
    old = RENAMED_MODELS[name]
    builds = model_name
    if model_name.form is None:
        builds = model_name._replace(form="2020")
    builder = f", what models.{name}() builds" if model_name.form is None else ""
    return (
        f"Model name '{name}' changed meaning: it now builds {describe(builds)}, "
        f"'{format_name(*builds)}'{builder}. It built {describe(parse(old))} "
        f"before: say '{old}' for that."
    )


def legacy_canonical_name(name):
    """The name, now, of what an old name meant (for old run folders).

    Args:
        name: a name recorded under the old names.

    Returns:
        The name now, or `name` itself when it means what it meant (or
        never meant anything).
    """
    return RENAMED_MODELS.get(name) or _old_any_depth(name) or name
