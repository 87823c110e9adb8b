"""`NormPreservationMonitor`: gradient norm ratios, signal propagation and operator norms per epoch.

Keras' `TensorBoard(histogram_freq=...)` shows weights, not how a net
carries a gradient or a signal through its blocks; this one measures that
on a fixed batch.

Any functional Keras model with residual blocks (see `diagnostics`); the
summaries go to TensorBoard with `tf.summary`, the profile image through
matplotlib (the `[figures]` extra).
"""

import io

import keras
import numpy as np

from keras_procrustes import diagnostics
from keras_procrustes.checks import is_positive_int
from keras_procrustes.optional import require


class NormPreservationMonitor(keras.callbacks.Callback):
    """Measures norm preservation of any residual model, every N epochs.

    On a fixed batch `(x, y)` it computes `diagnostics.gradient_norm_ratios`
    (the blocks of any functional model: `Add` merges, nested models, this
    package's layers). Into the epoch `logs` (so `TensorBoard`, `CSVLogger`
    and keras-tuner see them; put it before those) it adds
    `grad_norm_ratio_max_log_deviation`, the largest `|ln ratio|` (0 when
    every block preserves the norm), and, with `log_each_block=True`,
    `grad_norm_ratio/<block>` for every block. With `signal_propagation=True`
    it adds `signal_mean_squared/<block>` and `signal_variance/<block>`
    (`diagnostics.signal_propagation` on `x`); with `operator_norm_layers`,
    `operator_norm/<layer>` (`diagnostics.operator_norm`). With `log_dir`, it
    writes TensorBoard summaries at step `epoch` (the step of Keras' epoch
    scalars): a histogram of the ratios and of their logarithms, an image
    of the per-block profile (ratio against block, log axis), and every
    signal statistic and operator norm as a scalar. Every measurement is
    kept in `history` (ratios), `signal_history` and `operator_norm_history`
    (0 for the one before training, `epoch + 1` after an epoch). The
    callback holds arrays and numbers only, so `copy.deepcopy` (as
    keras-tuner does) works.

    Args:
        x: a batch of inputs (numpy or tensor).
        y: its targets.
        every: measure at the end of every `every` epochs.
        log_dir: a folder for the TensorBoard summaries, or `None`.
        loss: the loss to differentiate; default the model's.
        at_start: also measure before the first epoch (history only).
        log_each_block: put every block's ratio into `logs` (a progress bar
            then prints them all).
        signal_propagation: also measure the forward statistics per block.
        operator_norm_layers: names of Dense or convolution layers (also in
            nested models) whose operator norm to measure.
    """

    def __init__(self, x, y, every=1, log_dir=None, loss=None, at_start=True,
                 log_each_block=True, signal_propagation=False,
                 operator_norm_layers=()):
        super().__init__()
        if not is_positive_int(every):
            raise ValueError(f"`every` must be a positive int. Received every={every}")
        if isinstance(operator_norm_layers, str):
            raise ValueError(
                "`operator_norm_layers` must be a list of layer names. "
                f"Received operator_norm_layers={operator_norm_layers!r}")
        if log_dir is not None:  # the profile image; refused now, not after an epoch
            require("matplotlib", "figures")
        self.x = np.asarray(x)
        self.y = np.asarray(y)
        self.every = every
        self.log_dir = log_dir
        self.loss = loss
        self.at_start = at_start
        self.log_each_block = log_each_block
        self.signal_propagation = signal_propagation
        self.operator_norm_layers = list(operator_norm_layers)
        self.history = {}
        self.signal_history = {}
        self.operator_norm_history = {}

    def _measure(self, key):
        self.history[key] = diagnostics.gradient_norm_ratios(
            self.model, self.x, self.y, loss=self.loss)
        scalars = {}
        if self.signal_propagation:
            stats = diagnostics.signal_propagation(self.model, self.x)
            self.signal_history[key] = {name: tuple(s) for name, s in stats.items()}
            for name, (mean_squared, variance) in stats.items():
                scalars[f"signal_mean_squared/{name}"] = mean_squared
                scalars[f"signal_variance/{name}"] = variance
        if self.operator_norm_layers:
            norms = {name: diagnostics.operator_norm(find_layer(self.model, name))
                     for name in self.operator_norm_layers}
            self.operator_norm_history[key] = norms
            scalars.update((f"operator_norm/{name}", n) for name, n in norms.items())
        return self.history[key], scalars

    def on_train_begin(self, logs=None):
        if self.operator_norm_layers:  # a wrong name fails now, not after an epoch
            for name in self.operator_norm_layers:
                find_layer(self.model, name)
        if self.at_start:
            self._measure(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        ratios, scalars = self._measure(epoch + 1)
        if self.log_dir:
            write_ratio_summaries(self.log_dir, epoch, ratios, scalars)
        if logs is not None:
            if self.log_each_block:
                for name, ratio in ratios.items():
                    logs[f"grad_norm_ratio/{name}"] = ratio
            logs["grad_norm_ratio_max_log_deviation"] = float(
                np.max(np.abs(np.log(list(ratios.values()))))
            )
            logs.update(scalars)


def find_layer(model, name):
    """The layer called `name` in `model` or a model nested in it.

    Args:
        model: a Keras model.
        name: a layer name.

    Returns:
        The first such layer, in graph order.

    Raises:
        ValueError: if there is none.
    """
    for layer in model.layers:
        if layer.name == name:
            return layer
        if isinstance(layer, keras.Model):
            try:
                return find_layer(layer, name)
            except ValueError:
                pass
    raise ValueError(
        f"`operator_norm_layers` names a layer that model '{model.name}' does "
        f"not have. Received name={name!r}"
    )


def write_ratio_summaries(log_dir, step, ratios, scalars=None):
    """TensorBoard histograms and a profile image of per-block ratios.

    Args:
        log_dir: the summary folder (e.g. a run's `train/`).
        step: the summary step (Keras' TensorBoard uses the epoch index).
        ratios: layer name -> gradient norm ratio, in graph order.
        scalars: tag -> float, written as scalars at the same step.
    """
    tf = require("tensorflow", "train")
    values = np.array(list(ratios.values()), dtype="float64")
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default(step=step):
        tf.summary.histogram("grad_norm_ratio", values)
        tf.summary.histogram("log_grad_norm_ratio", np.log(values))
        image = tf.image.decode_png(profile_png(ratios, step), channels=3)
        tf.summary.image("grad_norm_ratio_profile", image[None])
        for tag, value in (scalars or {}).items():
            tf.summary.scalar(tag, value)
    writer.close()


def profile_png(ratios, step):
    """The paper's plot: ratio per block on a log axis, as PNG bytes.

    Args:
        ratios: layer name -> ratio, in graph order.
        step: the epoch index, for the title.

    Returns:
        The PNG file's bytes.
    """
    matplotlib = require("matplotlib", "figures")
    matplotlib.use("Agg")
    pyplot = require("matplotlib.pyplot", "figures")

    figure, axes = pyplot.subplots(figsize=(8, 3), dpi=80)
    axes.semilogy(range(1, len(ratios) + 1), list(ratios.values()), marker=".")
    axes.axhline(1.0, color="grey", linewidth=0.8)
    axes.set_ylim(0.1, 10)
    axes.set_xlabel("block (graph order)")
    axes.set_ylabel("||dL/dx_in|| / ||dL/dx_out||")
    axes.set_title(f"gradient norm ratio per block, after epoch {step + 1}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    return buffer.getvalue()
