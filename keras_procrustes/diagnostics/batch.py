"""The batch a diagnostic measures, checked against the model's input.

`predict` refuses images of another size than the model's input and casts
the ones it takes (uint8 included) to the input's dtype, as Keras'
`Functional` does; the diagnostics take a batch the same way, so they never
measure a network on inputs it would not run on.
"""

from keras import ops

from keras_procrustes.diagnostics import blocks as blocks_lib


def model_batch(model, x):
    """`x` as a tensor of the model's input dtype, checked against its input.

    A model with one input fixes the rank and the sizes it declares (e.g.
    `(None, 32, 32, 3)`: any batch size, 32 x 32 images, 3 channels); a model
    with several inputs or no graph has `x` converted as it is.

    Args:
        model: the model to be measured.
        x: a batch of inputs (e.g. uint8 or float images).

    Returns:
        `x` as a tensor of the input's dtype (uint8 images become floats, as
        `fit` and `predict` take them).

    Raises:
        ValueError: if the batch is empty or its shape does not fit the
            model's input, naming the shape received and the one expected.
    """
    graph = blocks_lib.graph_of(model)
    if graph is None or len(graph.inputs) != 1:
        return ops.convert_to_tensor(x)
    expected = tuple(graph.inputs[0].shape)
    x = ops.convert_to_tensor(x, dtype=graph.inputs[0].dtype)
    shape = tuple(ops.shape(x))
    fits = len(shape) == len(expected) and all(
        want is None or got == want for got, want in zip(shape, expected))
    if not fits:
        raise ValueError(
            f"`x` must be a batch of shape {expected} (None: any size) for "
            f"model '{model.name}'. Received x.shape={shape}"
        )
    if shape and shape[0] == 0:
        raise ValueError(
            f"`x` is an empty batch: model '{model.name}' needs at least one "
            f"input of shape {expected[1:]} to measure. Received x.shape={shape}"
        )
    return x
