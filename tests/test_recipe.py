"""The paper's recipe: the step schedule as the optimizer applies it, and the lr scaled by replicas."""

import math

import keras
import numpy as np
import pytest

from keras_procrustes.data.splits import DataInfo
from keras_procrustes.training import build
from keras_procrustes.training import recipe
from keras_procrustes.training.config import TrainingConfig
from keras_procrustes.training.job.distribute import Devices


def _applied_rates(schedule, total):
    """The lr of each of `total` real SGD steps, read from a weight's moves."""
    variable = keras.Variable(np.zeros((1,), "float32"))
    optimizer = recipe.paper_sgd(schedule, momentum=0.0, weight_decay=0.0)
    rates = []
    for _ in range(total):
        variable.assign(np.zeros((1,), "float32"))
        optimizer.apply_gradients([(keras.ops.ones((1,)), variable)])  # dloss/dw = 1
        rates.append(-float(keras.ops.convert_to_numpy(variable)[0]))
    return np.array(rates)


@pytest.mark.parametrize("epochs, steps_per_epoch", [(4, 5), (3, 7), (2, 1), (1, 3), (5, 2)])
def test_the_schedule_divides_by_10_once_half_and_three_quarters_of_the_steps_are_done(
        epochs, steps_per_epoch):
    # He et al.'s "divide it by 10 at 32k and 48k iterations (of 64k)": step k
    # (from 0) trains at lr/10 once k >= 50% of the steps, at lr/100 once
    # k >= 75%. With 4 epochs: epochs 1-2 at lr, 3 at lr/10, 4 at lr/100.
    lr, total = 0.5, epochs * steps_per_epoch
    expected = np.array([lr / 10 ** ((k >= total / 2) + (k >= 3 * total / 4))
                         for k in range(total)])
    rates = _applied_rates(recipe.lr_schedule(lr, epochs, steps_per_epoch), total)
    np.testing.assert_allclose(rates, expected, rtol=1e-5)


def test_the_schedule_of_four_epochs_changes_at_the_epoch_boundaries():
    rates = _applied_rates(recipe.lr_schedule(0.1, 4, 3), 12)
    np.testing.assert_allclose(rates, [0.1] * 6 + [0.01] * 3 + [0.001] * 3, rtol=1e-5)
    # The paper's 300 epochs: /10 from epoch 151's first step, /100 from 226's.
    schedule = recipe.lr_schedule(0.1, 300, 391)
    rate = lambda step: float(keras.ops.convert_to_numpy(schedule(step)))  # noqa: E731
    assert [rate(150 * 391 - 1), rate(150 * 391)] == pytest.approx([0.1, 0.01])
    assert [rate(225 * 391 - 1), rate(225 * 391)] == pytest.approx([0.01, 0.001])
    assert math.isclose(rate(300 * 391 - 1), 0.001, rel_tol=1e-6)


def test_fit_scales_the_lr_by_the_replicas():
    # `fit`'s model for a run on 3 replicas (the devices' scope is a no-op
    # here: the scaling is fit's, whichever strategy holds the replicas).
    config = TrainingConfig(model="procresnet13_bottleneck", dataset="arrays", lr=0.04,
                            epochs=2, image_size=8, channels=1)
    info = DataInfo(name="arrays", input_shape=(8, 8, 1), classes=2, mean=[127.0], std=[64.0],
                    train_examples=24, test_examples=8, source="arrays")
    rates = []
    for replicas in (1, 3):
        model = build.prepare_model("procresnet13_bottleneck", config, info,
                                    Devices(strategy=None, replicas=replicas), steps=4)
        schedule = model.optimizer._learning_rate
        rates.append([float(keras.ops.convert_to_numpy(schedule(k))) for k in (0, 3, 4, 6)])
    assert rates[0] == pytest.approx([0.04, 0.04, 0.004, 0.0004])
    assert rates[1] == pytest.approx([0.12, 0.12, 0.012, 0.0012])


def test_a_compiled_classifier_traces_its_train_step_once():
    """Its optimizer and metric variables exist before fit: a step that made
    them would be traced twice on TensorFlow (a retrace per first fit)."""
    from keras_procrustes import models

    model = models.get("procresnet13_bottleneck", input_shape=(8, 8, 3), classes=2)
    recipe.compile_classifier(model, recipe.paper_sgd(0.1))
    traces = []
    train_step = model.train_step

    def counted(*args):  # runs while tracing, or each step where eager (torch)
        traces.append(1)
        return train_step(*args)

    model.train_step = counted
    x = np.random.default_rng(0).normal(size=(8, 8, 8, 3)).astype("float32")
    history = model.fit(x, np.arange(8) % 2, batch_size=4, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    steps = 2
    assert len(traces) == (steps if keras.backend.backend() == "torch" else 1)
