"""The run's TensorBoard logs: a graph TensorBoard can draw, weight histograms."""

import glob
import os

import keras
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from keras_procrustes.training.callbacks.run_tensorboard import RunTensorBoard  # noqa: E402


def _events(folder):
    """(graph events, summary tags with their plugin) of every event file."""
    graphs, tags = 0, {}
    for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            graphs += bool(event.graph_def)
            for value in event.summary.value:
                tags[value.tag] = value.metadata.plugin_data.plugin_name
    return graphs, tags


def test_run_tensorboard_writes_an_op_graph_and_histograms_not_the_conceptual_graph(tmp_path):
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10)(hidden), name="tiny")
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    images = np.random.default_rng(0).uniform(0, 255, (8, 8, 8, 1)).astype("float32")
    labels = np.arange(8) % 10
    model.fit(images, labels, epochs=1, batch_size=4, verbose=0,
              callbacks=[RunTensorBoard(str(tmp_path))])

    graphs, tags = _events(os.path.join(tmp_path, "train"))
    # Keras' conceptual graph ("keras", plugin graph_keras_model) is what
    # TensorBoard's Graphs tab reports as a malformed GraphDef.
    assert "graph_keras_model" not in tags.values()
    assert any(tag.endswith("/histogram") for tag in tags), sorted(tags)
    assert "epoch_loss" in tags
    if keras.backend.backend() == "tensorflow":
        assert graphs == 1
        graph = _first_graph(os.path.join(tmp_path, "train"))
        assert any(node.name.startswith("tiny") for node in graph.node)
    else:  # no TensorFlow graph to draw on JAX and torch
        assert graphs == 0


def _first_graph(folder):
    for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            if event.graph_def:
                graph = tf.compat.v1.GraphDef()
                graph.ParseFromString(event.graph_def)
                return graph
    return None
