"""Argument rules shared by the layers, models, constraint and training side, and the architecture facts they check.

Each rule is stated here once and imported where it is needed. The errors
follow Keras' form: what was expected, then "Received name=value".
"""

import math

BLOCK_TYPES = ("bottleneck", "basic")

# Output channels of a residual branch per unit of its inner width.
EXPANSION = {"bottleneck": 4, "basic": 1}

# Conv layers per residual block (a net's depth counts them).
LAYERS_PER_BLOCK = {"bottleneck": 3, "basic": 2}

# The stages' widths of every CIFAR net here (He et al.'s; times the
# expansion at a block's output), each stage after the first halving the
# image size.
STAGE_WIDTHS = (16, 32, 64)
STAGES = len(STAGE_WIDTHS)


# What one projection may be asked for, so that a crafted `.keras` config
# can't make training hang (1e9 iterations did). One projection of a
# 3x3x8x8 kernel at 16x16 took about 3 ms per Newton-Schulz iteration and
# 20 ms per alternation (JAX on a CPU, eagerly). The authors use 10
# iterations, which converge in float32 far before 100.
MAX_ITERATIONS = 100
MAX_ALTERNATIONS = 100


def is_int(value):
    """True for a Python int that is not a bool (`True` is an int in Python).

    The one rule for ints in the package: NumPy ints are refused, as Keras'
    own layers refuse them (`keras.layers.Dense(np.int64(3))`); pass
    `int(value)`.
    """
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_int(value):
    """True for an int >= 1 that is not a bool."""
    return is_int(value) and value > 0


#: The largest count an option may give (epochs, batch size, examples, steps,
#: seconds, processes): step counters and tf.data sizes are 32-bit ints on
#: some backends (JAX without x64), and larger values overflow there.
MAX_COUNT = 2**31 - 1


def is_count(value):
    """True for an int from 1 to `MAX_COUNT` that is not a bool."""
    return is_positive_int(value) and value <= MAX_COUNT


def is_finite_number(value):
    """True for a finite int or float that is not a bool."""
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
    )


def is_positive_number(value):
    """True for a finite int or float > 0 that is not a bool."""
    return is_finite_number(value) and value > 0


def check_positive_int(name, value):
    """Raises ValueError unless `value` is an int >= 1 (not a bool).

    Args:
        name: the argument's name, for the message.
        value: the value to check.

    Raises:
        ValueError: naming `name` and `value`.
    """
    if not is_positive_int(value):
        raise ValueError(f"`{name}` must be a positive int. Received {name}={value!r}")


def check_int_up_to(name, value, maximum):
    """Raises ValueError unless `value` is an int from 1 to `maximum` (not a bool).

    Args:
        name: the argument's name, for the message.
        value: the value to check.
        maximum: the largest value allowed.

    Raises:
        ValueError: naming `name`, `value` and `maximum`.
    """
    if not is_positive_int(value) or value > maximum:
        raise ValueError(
            f"`{name}` must be an int from 1 to {maximum}. Received {name}={value!r}"
        )


def check_block_type(block_type):
    """Raises ValueError unless `block_type` is one of `BLOCK_TYPES`.

    Args:
        block_type: `"bottleneck"` or `"basic"`.

    Raises:
        ValueError: naming the value received.
    """
    if block_type not in BLOCK_TYPES:
        raise ValueError(
            f"`block_type` must be one of {BLOCK_TYPES}. "
            f"Received block_type={block_type!r}"
        )


def block_output_channels(filters, block_type):
    """Channels out of a residual branch of inner width `filters`.

    Args:
        filters: the branch's inner width.
        block_type: `"bottleneck"` (4x) or `"basic"` (1x).

    Returns:
        `EXPANSION[block_type] * filters`.

    Raises:
        ValueError: for an unknown block type.
    """
    check_block_type(block_type)
    return EXPANSION[block_type] * filters
