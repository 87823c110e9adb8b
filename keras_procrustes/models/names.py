"""Model names: one name, one architecture.

`D` is He et al.'s layer count of the baseline; its Procrustes form has two
more layers (the standalone transitions).

- `procresnet{D+2}`: the Procrustes form (`procresnet166`);
- `resnet{D}_baseline`: He et al.'s pre-activation ResNet-D
  (`resnet164_baseline`);
- `resnet{D}`: the family's builder, `models.resnet164()`, which builds the
  Procrustes form unless given `procrustes=False`.

He et al.'s depths fix the block type: 20, 32, 44, 56, 110 are basic-block
nets, 164 and 1001 (and the authors' 272 and 632) bottleneck nets. Any other
depth names its block type: `procresnet13_bottleneck`,
`resnet38_basic_baseline`.

The old names (package 0.1.0 before this grammar: `get("resnet164")` built
the baseline, `get("resnet20")` and `get("procresnet22")` bottleneck nets)
build what they mean now, with a `ModelNameWarning` that says what changed.
Old names that no longer parse (`procresnet13`) are refused with the new
spelling of what they meant.
"""

import collections
import re
import warnings

from keras_procrustes.models.presets import FAMILIES

# Conv layers per residual block.
LAYERS_PER_BLOCK = {"bottleneck": 3, "basic": 2}

ModelName = collections.namedtuple("ModelName", ["depth", "block_type", "procrustes"])
ModelName.__doc__ = """A parsed name: He et al.'s depth, the block type, the form.

`procrustes` is `None` for a family's builder name (`resnet164`).
"""

_NAME = re.compile(
    r"(?P<proc>proc)?resnet(?P<depth>[1-9][0-9]*)(?:_(?P<block>basic|bottleneck))?"
    r"(?P<baseline>_baseline)?"
)
_OLD_NAME = re.compile(r"(proc)?resnet([1-9][0-9]*)")


class ModelNameWarning(FutureWarning):
    """A model name, or a depth without a block type, changed meaning."""


def is_valid_depth(depth, block_type):
    """Whether `depth` is `3 * layers_per_block * n + 2` for a positive n."""
    per_stage = 3 * LAYERS_PER_BLOCK[block_type]
    return isinstance(depth, int) and depth > 2 and (depth - 2) % per_stage == 0


def canonical_name(depth, block_type, procrustes):
    """The name of one architecture.

    Args:
        depth: He et al.'s layer count of the family (164).
        block_type: `"bottleneck"` or `"basic"`.
        procrustes: the Procrustes form or the baseline.

    Returns:
        E.g. `"procresnet166"`, `"resnet164_baseline"`,
        `"procresnet13_bottleneck"`.
    """
    suffix = "" if FAMILIES.get(depth) == block_type else f"_{block_type}"
    if procrustes:
        return f"procresnet{depth + 2}{suffix}"
    return f"resnet{depth}{suffix}_baseline"


def describe(model_name):
    """`ProcResNet-166 (bottleneck blocks)` or `He et al.'s ResNet-164 (...)`."""
    depth, block_type, procrustes = model_name
    blocks = f"({block_type} blocks)"
    if procrustes:
        return f"ProcResNet-{depth + 2} {blocks}"
    return f"He et al.'s ResNet-{depth} {blocks}"


def old_meaning(name):
    """What `name` built under the old names, or `None` where it built nothing.

    The old registry held `resnet56` (basic baseline), `procresnet58` (basic
    Procrustes) and read every other `resnet{9n+2}` as a bottleneck baseline
    and `procresnet{9n+4}` as a bottleneck Procrustes net.

    Args:
        name: a model name.

    Returns:
        A `ModelName` (with `procrustes` set), or `None`.
    """
    if name == "resnet56":
        return ModelName(56, "basic", False)
    if name == "procresnet58":
        return ModelName(56, "basic", True)
    match = _OLD_NAME.fullmatch(str(name))
    if not match:
        return None
    procrustes = bool(match.group(1))
    depth = int(match.group(2)) - (2 if procrustes else 0)
    if is_valid_depth(depth, "bottleneck"):
        return ModelName(depth, "bottleneck", procrustes)
    return None


class UnknownModelName(ValueError):
    """A name that means no architecture.

    Attributes:
        name: the name.
        reason: why, and how to spell what it meant under the old names.
    """

    def __init__(self, name, reason, known=""):
        self.name, self.reason = name, reason
        super().__init__(f"Model name={name!r}: {reason}." + (f" {known}" if known else ""))


def _refusal(name, reason):
    old = old_meaning(name)
    if old is not None:
        reason += f"; it built {describe(old)} before: say '{canonical_name(*old)}'"
    return UnknownModelName(name, reason)


def parse(name):
    """The architecture a name means.

    Args:
        name: a model name (see the module's docstring).

    Returns:
        A `ModelName`; `procrustes` is `None` for a family's builder name.
        An `UnknownModelName` (a ValueError) names a name that does not
        parse, and says how to spell what it meant before.
    """
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise _refusal(name, "not a model name")
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
                f"({_families()}), so the name needs a block type "
                "(e.g. '_bottleneck' after the depth)")
        block_type = FAMILIES[depth]
    elif not is_valid_depth(depth, block_type):
        per_stage = 3 * LAYERS_PER_BLOCK[block_type]
        raise _refusal(
            name, f"a {block_type} ResNet has depth {per_stage}n+2 (its "
            f"Procrustes form {per_stage}n+4); {depth} is not")
    if not (procrustes or baseline):
        if match["block"] is not None:  # a family name is a builder's: no block
            raise _refusal(
                name, f"say '{canonical_name(depth, block_type, True)}' or "
                f"'{canonical_name(depth, block_type, False)}'")
        return ModelName(depth, block_type, None)
    return ModelName(depth, block_type, procrustes)


def _families():
    return ", ".join(f"{depth} {block}" for depth, block in sorted(FAMILIES.items()))


def meaning_change(name, model_name):
    """The warning for an old name that built another architecture.

    Args:
        name: the name as given.
        model_name: `parse(name)`.

    Returns:
        The message, or `None` when the name means what it meant.
    """
    old = old_meaning(name)
    builds = model_name
    if model_name.procrustes is None:
        builds = model_name._replace(procrustes=True)
    if old is None or old == builds:
        return None
    builder = f", what models.{name}() builds" if model_name.procrustes is None else ""
    return (
        f"Model name '{name}' changed meaning: it now builds {describe(builds)}, "
        f"'{canonical_name(*builds)}'{builder}. It built {describe(old)} before: "
        f"say '{canonical_name(*old)}' for that."
    )


def family_block_type(depth, block_type=None):
    """The block type of a depth: given, or He et al.'s for their depths.

    `models.resnet(depth)` used to default to bottleneck blocks; for 20, 56
    and 110, now basic-block nets, it warns (`ModelNameWarning`).

    Args:
        depth: He et al.'s layer count.
        block_type: `"bottleneck"`, `"basic"`, or `None` for He et al.'s.

    Returns:
        The block type. A ValueError says when a depth needs one.
    """
    if block_type is not None:
        return block_type
    if depth not in FAMILIES:
        hint = ""
        if isinstance(depth, int) and depth - 2 in FAMILIES:
            hint = (f" (ProcResNet-{depth} is resnet({depth - 2}): depth counts "
                    "the baseline's layers)")
        raise ValueError(
            f"depth={depth} is not one of He et al.'s depths ({_families()}): "
            f"pass block_type='basic' (depth 6n+2) or 'bottleneck' (9n+2){hint}."
        )
    block_type = FAMILIES[depth]
    if block_type == "basic" and is_valid_depth(depth, "bottleneck"):
        warnings.warn(
            f"models.resnet({depth}) builds basic blocks now, He et al.'s "
            f"ResNet-{depth}; it built a bottleneck net before: pass "
            "block_type='bottleneck' for that.",
            ModelNameWarning,
            stacklevel=3,
        )
    return block_type


def legacy_canonical_name(name):
    """The canonical name of what an old name meant (for old run folders).

    Args:
        name: a name recorded under the old names.

    Returns:
        The canonical name, or `name` itself when the old names lacked it.
    """
    old = old_meaning(name)
    return canonical_name(*old) if old is not None else name
