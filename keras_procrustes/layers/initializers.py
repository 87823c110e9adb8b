"""Independent draws from one initializer, for layers that hold several kernels.

A Keras random initializer fixes its seed when it is made, so one object
shared by several kernels gives them all the same draw (scaled copies for
different shapes). A block that takes one `kernel_initializer` for all its
convs makes one independent copy per kernel instead.
"""

import keras

from keras_procrustes.checks import is_int


def independent_initializers(initializer, count):
    """`count` initializers like `initializer` whose draws are independent.

    Args:
        initializer: a Keras initializer (object, name or config).
        count: how many.

    Returns:
        A list of initializers. Random ones are remade with a fresh seed
        each (or `seed + i` where the seed was an int, so a seeded
        initializer stays reproducible); others are returned as they are.
    """
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()
    seed = config.get("seed", "none")
    if seed is not None and not is_int(seed):
        return [initializer] * count
    return [
        initializer.__class__.from_config(
            {**config, "seed": None if seed is None else seed + index}
        )
        for index in range(count)
    ]
