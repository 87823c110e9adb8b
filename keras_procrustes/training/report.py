"""What a run says while it runs, and the metrics it records at its end."""

import math
import os
import statistics

import keras

from keras_procrustes.training.callbacks import best_model_checkpoint
from keras_procrustes.training.callbacks import training_monitor
from keras_procrustes.training.job import distribute
from keras_procrustes.training.run import history
from keras_procrustes.training.run import manifest as run_manifest
from keras_procrustes.training.run import names as run_names


def say(config, message):
    """Prints `message` with the package's prefix, unless `config.verbose` is 0."""
    if config.verbose:
        print(f"[keras_procrustes] {message}", flush=True)


def announce(config, run, info, devices, model):
    """Says what runs where, and notes (process 0 only).

    Args:
        config: the `TrainingConfig`.
        run: the `RunPlan`.
        info: the `DataInfo`.
        devices: the `Devices`.
        model: the model.
    """
    if not devices.is_chief:
        return
    job = f" in {devices.processes} processes" if devices.processes > 1 else ""
    say(config, f"{config.model or model.name} on {info.name} ({info.train_examples} train "
        f"images from {info.source}), {devices.replicas} replica(s){job}, global batch "
        f"{config.batch_size * devices.replicas}, backend {keras.backend.backend()}, "
        f"run in {run.path}")
    if run.first_epoch:
        say(config, f"resuming at epoch {run.first_epoch + 1} from the backup of epoch "
            f"{run.first_epoch}")
    for note in (distribute.device_note(), distribute.remat_note(config.remat)):
        if note:
            say(config, f"note: {note}")


def summarise(run, model, callback_list, facts):
    """The run's metrics: `facts`, the history and the best model's record.

    Args:
        run: the `RunPlan`.
        model: the trained model.
        callback_list: the run's callbacks (its `BestModelCheckpoint` and
            `TrainingMonitor` among them).
        facts: what the run was (model, data, devices, timing).

    Returns:
        The metrics dict.
    """
    rows = history.read_history(run.path)
    errors = [1.0 - float(row["val_accuracy"]) for row in rows]
    best = next(c.best for c in callback_list if isinstance(c, best_model_checkpoint.BestModelCheckpoint))
    throughput = next(c for c in callback_list if isinstance(c, training_monitor.TrainingMonitor))
    return {
        **facts,
        "trainable_parameters": sum(int(math.prod(w.shape)) for w in model.trainable_weights),
        "epochs_done": int(rows[-1]["epoch"]) + 1,
        "best_test_error": best["test_error"],
        "best_epoch": best["epoch"],
        "last_test_error": errors[-1],
        "test_error_per_epoch": errors,
        "images_per_second": (statistics.median(throughput.epoch_images_per_second)
                              if throughput.epoch_images_per_second else None),
    }


def finish(config, run, model, callback_list, facts):
    """Writes the run's metrics and marks it finished; says where they are.

    Args:
        config: the `TrainingConfig`.
        run: the `RunPlan`.
        model: the trained model.
        callback_list: the run's callbacks.
        facts: what the run was.

    Returns:
        The metrics dict, as written to `metrics.json`.
    """
    metrics = summarise(run, model, callback_list, facts)
    run_manifest.finish(run.path, metrics)
    say(config, f"best test error {metrics['best_test_error']:.4f} (epoch "
        f"{metrics['best_epoch']}, best.keras), last {metrics['last_test_error']:.4f}; "
        f"metrics in {os.path.join(run.path, run_names.METRICS)}")
    return metrics
