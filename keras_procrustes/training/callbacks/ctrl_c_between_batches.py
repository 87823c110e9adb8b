"""`CtrlCBetweenBatches`: Ctrl-C taken between two batches, on every backend.

Keras has no callback for it: a `KeyboardInterrupt` can land inside Keras'
own code (on JAX, where a bare `except:` drops it) and be lost.
"""

import signal
import threading

import keras


class CtrlCBetweenBatches(keras.callbacks.Callback):
    """Takes Ctrl-C between two batches, where no library code can lose it.

    Python's own SIGINT handler raises `KeyboardInterrupt` wherever the main
    thread is. Keras turns each batch's logs into floats inside a bare
    `except:` (`keras.src.utils.python_utils.pythonify_logs`, Keras 3.15),
    and on JAX that conversion is where the main thread waits for the step:
    the interrupt is caught there and training goes on. While this callback
    is entered as a context manager, the first Ctrl-C is only recorded, and
    raised as `KeyboardInterrupt` at the next batch, evaluation batch or
    epoch; a second Ctrl-C raises at once. It takes over SIGINT only in the
    main thread and only from Python's default handler: a process that
    ignores SIGINT (started with `&`) or handles it itself keeps doing so.

    Example:
    >>> ctrl_c = CtrlCBetweenBatches()
    >>> with ctrl_c:
    ...     model.fit(x, y, callbacks=[ctrl_c])
    """

    def __init__(self):
        super().__init__()
        self.requested = False
        self._previous = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._record)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def request(self):
        """Asks for the stop at the next batch, as a first Ctrl-C does (any thread)."""
        self.requested = True

    def _record(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.request()

    def _raise_if_requested(self, *args, **kwargs):
        if self.requested:
            raise KeyboardInterrupt

    on_epoch_begin = on_train_batch_begin = on_test_batch_begin = _raise_if_requested

    def __deepcopy__(self, memo):
        """This instance: its SIGINT handler is bound to it (keras-tuner copies callbacks)."""
        return self
