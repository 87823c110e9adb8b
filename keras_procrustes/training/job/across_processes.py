"""What the processes of a job share: process 0's values and files, and a scope that saves alone.

In one process every function here is the identity (or does nothing); in a
JAX job of several processes they go through `jax.experimental.multihost_utils`.
"""

import contextlib

import keras
import numpy as np


def broadcast_from_chief(tree):
    """Process 0's values of `tree` (numpy arrays and numbers), on every process.

    Args:
        tree: a pytree of numpy arrays or numbers, the same structure on
            every process.

    Returns:
        The same structure holding process 0's values (`tree` itself in a
        single process).
    """
    if keras.backend.backend() != "jax":
        return tree
    import jax
    from jax.experimental import multihost_utils

    if jax.process_count() == 1:
        return tree
    return jax.tree_util.tree_map(
        np.asarray, multihost_utils.broadcast_one_to_all(tree))


def share_file(path, is_source, suffix=""):
    """Process 0's file, on every process: its path there, a copy elsewhere.

    Process 0 reads the file and sends its bytes; every other process
    writes them to a temporary file of its own (delete it with
    `os.remove` when done). The run folder need not be shared.

    Args:
        path: the file on process 0 (unused elsewhere).
        is_source: whether this is process 0.
        suffix: the copy's file name ending (e.g. `".weights.h5"`).

    Returns:
        A path to the same bytes on this process.
    """
    import os
    import tempfile

    size = int(broadcast_from_chief(np.int64(os.path.getsize(path) if is_source else 0)))
    if is_source:
        buffer = np.fromfile(path, dtype=np.uint8)
    else:
        buffer = np.zeros(size, np.uint8)
    buffer = broadcast_from_chief(buffer)
    if is_source:
        return path
    handle, copy = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(handle, "wb") as stream:
        stream.write(buffer.tobytes())
    return copy


@contextlib.contextmanager
def local_only():
    """A scope where new variables stay on this process (no distribution).

    Keras creates variables while it saves a model, and under a
    distribution of several processes creating one is a collective step
    every process must take. Process 0 saves alone inside this scope.

    Yields:
        Nothing.
    """
    current = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(current)
