"""Names of the paper's first (2018) form: `procresnet{D}_2018`.

`D` is the net's weighted layers (stem, residual convs, classifier: the
transitions have no weights), which is He et al.'s depth of the same blocks:
`procresnet164_2018`, `procresnet1001_2018`, `procresnet56_2018` (basic
blocks). A depth that is not one of He et al.'s names its block type
(`procresnet29_bottleneck_2018`). The 2020 form of the same blocks is
`procresnet{D+2}`, two learned transitions more (`models.names`).
"""

import re

from keras_procrustes import checks
from keras_procrustes.models import names
from keras_procrustes.models.presets import FAMILIES

_NAME = re.compile(
    r"procresnet(?P<depth>[1-9][0-9]*)(?:_(?P<block>basic|bottleneck))?_2018"
)


def parse_name(name):
    """`(depth, block_type)` of a 2018-form name, or `None` for other names.

    Args:
        name: a model name.

    Returns:
        `(depth, block_type)`, or `None` where `name` does not end in
        `_2018`. An `UnknownModelName` (a ValueError) names a 2018 name
        whose depth does not fit.
    """
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        return None
    depth, block_type = int(match["depth"]), match["block"]
    try:
        block_type = family_block_type(depth, block_type)
    except ValueError as error:
        raise names.UnknownModelName(name, str(error).rstrip(".")) from None
    if not names.is_valid_depth(depth, block_type):
        per_stage = 3 * names.LAYERS_PER_BLOCK[block_type]
        raise names.UnknownModelName(
            name, f"a {block_type} ResNet has depth {per_stage}n+2; {depth} is not")
    return depth, block_type


def canonical_name(depth, block_type):
    """The name of the 2018 form of `depth` (`procresnet164_2018`)."""
    suffix = "" if FAMILIES.get(depth) == block_type else f"_{block_type}"
    return f"procresnet{depth}{suffix}_2018"


def family_block_type(depth, block_type=None):
    """`block_type`, or He et al.'s block for their depths (56: basic).

    Args:
        depth: He et al.'s layer count.
        block_type: `"bottleneck"`, `"basic"`, or `None`.

    Returns:
        The block type.

    Raises:
        ValueError: for an unknown block type, or a depth that needs one.
    """
    if block_type is not None:
        checks.check_block_type(block_type)
        return block_type
    if depth not in FAMILIES:
        raise ValueError(
            f"depth={depth} is not one of He et al.'s depths "
            f"({sorted(FAMILIES)}): pass block_type='basic' (depth 6n+2) or "
            "'bottleneck' (9n+2). Received block_type=None"
        )
    return FAMILIES[depth]
