"""`search`: a keras-tuner search over Procrustes ResNets, safe for a user's files.

The project folder `directory/project_name` is marked as this package's
(`keras_procrustes_tuning.json`) when it is made. `overwrite=True` deletes
only what keras-tuner and this package write there, and only in a marked
folder; a folder of someone else's is refused.
"""

import json
import os
import re
import shutil

from keras_procrustes import data
from keras_procrustes.training import callbacks
from keras_procrustes.training import distribute
from keras_procrustes.training import tuning
from keras_procrustes.training.checkpoints import RunStateError
from keras_procrustes.training.checkpoints import write_json
from keras_procrustes.training.errors import OptionError

MARKER = "keras_procrustes_tuning.json"
_TUNER_FILES = re.compile(r"oracle\.json|tuner\d*\.json|chief\.json|worker-[A-Za-z0-9_-]+\.json|"
                          r"trial_\d+|tensorboard|best\.keras|"
                          r"best_hyperparameters\.json|" + re.escape(MARKER))


def check_project(directory, project_name, overwrite):
    """Refuses a project that is not a plain name, or not this package's.

    Args:
        directory: the tuner's directory.
        project_name: its project name.
        overwrite: whether the search starts over.

    Returns:
        The project folder. An `OptionError` names the bad option.
    """
    try:
        tuning.check_project_name(project_name)
    except ValueError:
        raise OptionError("project_name", project_name,
                          "must be a plain folder name (letters, digits, '.', '_', '-')") from None
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise OptionError("directory", directory, "is a file, not a folder")
    project = os.path.join(directory, project_name)
    if os.path.exists(project) and not os.path.isdir(project):
        raise OptionError("project_name", project_name, f"{project} is a file")
    entries = os.listdir(project) if os.path.isdir(project) else []
    ours = MARKER in entries
    if entries and not ours and "oracle.json" not in entries:
        raise OptionError("project_name", project_name,
                          f"{project} holds files that are not a search of this package")
    if entries and overwrite and not ours:
        raise OptionError("overwrite", True, f"{project} was not made by this package; "
                          "it is left as it is: choose another --project-name")
    oracle = os.path.join(project, "oracle.json")
    if os.path.exists(oracle) and not overwrite:
        try:
            with open(oracle) as handle:
                json.load(handle)
        except (OSError, ValueError) as error:
            raise OptionError("directory", directory, f"{oracle} is corrupt ({error}); "
                              "pass --overwrite to start the search over") from None
    return project


def clear_project(project):
    """Deletes what a search wrote in a marked project folder, nothing else."""
    for name in os.listdir(project):
        path = os.path.join(project, name)
        if not _TUNER_FILES.fullmatch(name):
            continue
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def search(dataset, *, directory="runs/tuning", project_name="procresnet", tuner="random",
           max_trials=10, epochs=10, block_type="bottleneck", depths=(164, 272),
           batch_sizes=(64, 128, 256), objective="val_accuracy", overwrite=False,
           cpu_replicas=0, seed=0, verbose=1, role=None, **data_options):
    """Searches hyperparameters and saves the best model and values.

    Args:
        dataset: a data set name (see `fit`).
        directory: the tuner's directory.
        project_name: a plain folder name inside it.
        tuner: `"random"`, `"hyperband"` or `"bayesian"`.
        max_trials: trials for random and Bayesian search.
        epochs: epochs per trial (Hyperband's maximum).
        block_type: `"bottleneck"` or `"basic"`.
        depths: depths to choose from (He et al.'s count).
        batch_sizes: batch sizes per replica to choose from.
        objective: the metric to optimise.
        overwrite: start over (deletes only the search's own files).
        cpu_replicas: train each trial on this many logical CPU devices.
        seed: the tuner's and the pipelines' seed.
        verbose: Keras verbosity.
        role: `None` for a search in this process alone; for keras-tuner's
            distributed search, `("chief", "HOST:PORT")` (serves the oracle
            there over gRPC, trains nothing, and writes the results) or
            `("worker", ID, "HOST:PORT")` (takes trials from the chief; a
            worker restarted with the same ID takes up its unfinished
            trial). Every process must see `directory` (a shared folder).
        **data_options: `data.load_splits` options.

    Returns:
        `(tuner, best_hyperparameters)`; a worker returns `(tuner, None)`:
        the chief writes the results.
    """
    is_worker = role is not None and role[0] == "worker"
    if role is not None:
        use_chief_oracle(role)
    project = os.path.join(directory, project_name) if is_worker else check_project(
        directory, project_name, overwrite)
    devices = distribute.configure(cpu_replicas)
    (x_train, y_train), (x_test, y_test), info = data.load_splits(dataset, **data_options)
    hypermodel = tuning.ProcResNetHyperModel(
        info.input_shape, info.classes, block_type=block_type, depths=depths,
        batch_sizes=batch_sizes, replicas=devices.replicas,
        preprocessing=(info.mean, info.std), seed=seed)
    if not is_worker:
        if overwrite and os.path.isdir(project):
            clear_project(project)
        os.makedirs(project, exist_ok=True)
        if not os.path.exists(os.path.join(project, MARKER)):
            write_json(os.path.join(project, MARKER), {"dataset": dataset})
    search_tuner = tuning.make_tuner(
        hypermodel, kind=tuner, max_trials=max_trials, objective=objective,
        directory=directory, project_name=project_name, max_epochs=epochs, seed=seed,
        distribution_strategy=devices.strategy if devices.replicas > 1 else None)
    search_tuner.search(
        x_train, y_train, validation_data=(x_test, y_test), epochs=epochs, verbose=verbose,
        callbacks=[callbacks.NaNGuard(), callbacks.TrainingMonitor(info.train_examples),
                   _tensorboard(project)])
    if is_worker:
        return search_tuner, None
    return _save_best(search_tuner, project)


def use_chief_oracle(role):
    """Sets keras-tuner's variables for a distributed search.

    keras-tuner reads `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP` and
    `KERASTUNER_ORACLE_PORT` when a tuner is made: the tuner whose ID holds
    "chief" serves the oracle, the others ask it for trials.

    Args:
        role: `("chief", "HOST:PORT")` or `("worker", ID, "HOST:PORT")`.
    """
    host, _, port = role[-1].rpartition(":")
    tuner_id = "chief" if role[0] == "chief" else f"worker-{role[1]}"
    os.environ.update(KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP=host,
                      KERASTUNER_ORACLE_PORT=port)


def _tensorboard(project):
    import keras

    return keras.callbacks.TensorBoard(os.path.join(project, "tensorboard"))


def _save_best(search_tuner, project):
    """Writes `best_hyperparameters.json` and `best.keras`."""
    if not search_tuner.oracle.get_best_trials(1):
        raise RunStateError(f"no trial of the search in {project} completed (see above)")
    best = search_tuner.get_best_hyperparameters(1)[0].values
    write_json(os.path.join(project, "best_hyperparameters.json"), best)
    search_tuner.get_best_models(1)[0].save(os.path.join(project, "best.keras"))
    return search_tuner, best
