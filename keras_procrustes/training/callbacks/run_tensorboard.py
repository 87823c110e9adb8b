"""The run's TensorBoard callback: scalars, weight histograms, a drawable graph.

Keras 3's `keras.callbacks.TensorBoard(write_graph=True)` writes the model's
configuration as a "conceptual graph" in Keras 3's format, which
TensorBoard's graph plugin reads as Keras 2's: its Graphs tab then shows
"Graph visualization failed. Error: Malformed GraphDef". And Keras 3's train
function is not a `tf.function` with a `function_spec`, so no op graph is
written either. `RunTensorBoard` writes no conceptual graph; on the
TensorFlow backend it writes the op graph of the model's inference pass once,
which TensorBoard draws with the layers as name scopes.
"""

import os

import keras

from keras_procrustes.optional import require


class RunTensorBoard(keras.callbacks.TensorBoard):
    """`keras.callbacks.TensorBoard` whose Graphs and Histograms tabs work.

    Scalars and the learning rate as Keras writes them (`train/`,
    `validation/`), weight histograms every `histogram_freq` epochs, and,
    on the TensorFlow backend, the op graph of `model(x, training=False)`
    in `train/` at the start of the first `fit` (the JAX and torch backends
    have no TensorFlow graph to draw, so there the Graphs tab stays empty).

    Args:
        log_dir: the run's folder.
        histogram_freq: write weight histograms every this many epochs
            (0: never).
        **kwargs: the other arguments of `keras.callbacks.TensorBoard`
            (`write_graph` is always `False`: see the module docstring).

    Example:
    >>> callback = RunTensorBoard("runs/p58")  # doctest: +SKIP
    """

    def __init__(self, log_dir, histogram_freq=1, **kwargs):
        kwargs["write_graph"] = False
        super().__init__(log_dir, histogram_freq=histogram_freq, **kwargs)
        self.graph_written = False

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if not self.graph_written and keras.backend.backend() == "tensorflow":
            write_model_graph(os.path.join(self.log_dir, "train"), self.model)
            self.graph_written = True


def write_model_graph(log_dir, model):
    """Writes the op graph of `model`'s inference pass for TensorBoard.

    Args:
        log_dir: the summary folder (e.g. a run's `train/`).
        model: a built Keras model, on the TensorFlow backend.
    """
    tf = require("tensorflow", "train")
    specs = [tf.TensorSpec((None,) + tuple(x.shape[1:]), x.dtype) for x in model.inputs]
    single = len(specs) == 1

    @tf.function
    def inference(*inputs):
        return model(inputs[0] if single else list(inputs), training=False)

    graph = inference.get_concrete_function(*specs).graph
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        tf.summary.graph(graph)
    writer.close()
