"""Ctrl-C taken between batches (`training.callbacks.CtrlCBetweenBatches`), in this process, on each backend."""

import copy
import os
import signal
import time

import keras
import numpy as np
import pytest
from processes import free_port

from keras_procrustes.training import CtrlCBetweenBatches
from keras_procrustes.training.search import worker as search_worker


@pytest.fixture
def python_sigint():
    """SIGINT with Python's default handler, as in a terminal (pytest-xdist workers ignore it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class PressCtrlC(keras.callbacks.Callback):
    """Sends this process `presses` SIGINTs at the end of batch 1; records the batches that end."""

    def __init__(self, presses):
        super().__init__()
        self.presses, self.ended, self.returned = presses, [], False

    def on_train_batch_end(self, batch, logs=None):
        self.ended.append(batch)
        if batch == 1:
            for _ in range(self.presses):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # Python runs the handler between two bytecodes
            self.returned = True


def _fit(callbacks, epochs=2):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("sgd", "mse")
    x, y = np.ones((64, 4), "float32"), np.zeros((64, 3), "float32")
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=callbacks)


def test_one_ctrl_c_stops_before_the_next_batch(python_sigint):
    ctrl_c, press = CtrlCBetweenBatches(), PressCtrlC(presses=1)
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c:
            _fit([press, ctrl_c])
    assert press.returned and press.ended == [0, 1]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_raises_at_once(python_sigint):
    ctrl_c, press = CtrlCBetweenBatches(), PressCtrlC(presses=2)
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c:
            _fit([press, ctrl_c])
    assert not press.returned and press.ended == [0, 1]


@pytest.mark.parametrize("handler", [signal.SIG_IGN, lambda signum, frame: None],
                         ids=["ignored", "own_handler"])
def test_a_sigint_that_is_not_pythons_default_is_left_alone(python_sigint, handler):
    signal.signal(signal.SIGINT, handler)
    with CtrlCBetweenBatches():
        assert signal.getsignal(signal.SIGINT) is handler
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_copy_is_the_same_callback():
    # keras-tuner deep-copies a search's callbacks for each trial.
    ctrl_c = CtrlCBetweenBatches()
    assert copy.deepcopy([ctrl_c])[0] is ctrl_c


def test_a_lost_chief_stops_a_trial_between_batches():
    # A search worker's watchdog: nobody listens at the chief's port.
    ctrl_c = CtrlCBetweenBatches()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with search_worker.ChiefWatch(f"127.0.0.1:{free_port()}", 0.1,
                                      on_lost=ctrl_c.request) as watch, ctrl_c:
            _fit([ctrl_c], epochs=100_000)
    assert watch.lost and ctrl_c.requested
    assert time.monotonic() - start < search_worker.GRACE_S  # not the watchdog's own exit
