"""`search`: a keras-tuner search over Procrustes ResNets, safe for a user's files.

The project folder `directory/project_name` is marked as this package's
(`keras_procrustes_tuning.json`) when it is made. `overwrite=True` deletes
only what keras-tuner and this package write there, and only in a marked
folder; a folder of someone else's is refused. The search's chief (or the
one process of a search) locks the project for the whole search
(`run.lock`): a second search, or a training run, is refused there.
"""

import contextlib
import os
import re
import shutil

from keras_procrustes import data
from keras_procrustes.training.callbacks import ctrl_c_between_batches
from keras_procrustes.training.callbacks import nan_guard
from keras_procrustes.training.callbacks import training_monitor
from keras_procrustes.training.errors import EnvironmentOptionError
from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.errors import RunStateError
from keras_procrustes.training.job import distribute
from keras_procrustes.training.run import lock as folder_lock
from keras_procrustes.training.run import names as run_names
from keras_procrustes.training.run.atomic import write_json
from keras_procrustes.training.run.atomic import writing
from keras_procrustes.training.run.names import SEARCH_MARKER
from keras_procrustes.training.search import hypermodel as hypermodels
from keras_procrustes.training.search import worker as search_worker
from keras_procrustes.training.search.config import TUNER_VARIABLES
from keras_procrustes.training.search.config import SearchConfig
from keras_procrustes.training.search.config import check_project

def clear_project(project, keep=None):
    """Deletes what a search wrote in a marked project folder, nothing else (but `keep`)."""
    for name in os.listdir(project):
        path = os.path.join(project, name)
        if not run_names.SEARCH_FILES.fullmatch(name) or name == keep:
            continue
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def search(dataset="cifar10", config=None, **options):
    """Searches hyperparameters and saves the best model and values.

    Args:
        dataset: a data set name (see `fit`), or a `SearchConfig` (then
            nothing else is passed).
        config: a `SearchConfig` (instead of `dataset` and `options`).
        **options: `SearchConfig` fields: `directory`, `project_name`,
            `tuner`, `max_trials`, `epochs`, `block_type`, `depths`,
            `batch_sizes`, `objective`, `overwrite`, the data options
            (`data_dir`, `max_train_examples`, ...), `cpu_replicas`, `seed`,
            `verbose`; and for keras-tuner's distributed search, `chief`,
            `worker` and `oracle` (or keras-tuner's `KERASTUNER_TUNER_ID`,
            `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`, which give
            the same parts), or `role`: `("chief", "HOST:PORT")`
            (serves the oracle there over gRPC, trains nothing, and writes
            the results) or `("worker", ID, "HOST:PORT")` (takes trials from
            the chief; a worker restarted with the same ID takes up its
            unfinished trial; a second live worker with that ID is refused;
            a worker stops when the chief is gone for `oracle_timeout`
            seconds). Every process must see `directory`.

    Returns:
        `(tuner, best_hyperparameters)`; a worker returns `(tuner, None)`:
        the chief writes the results.

    Raises:
        OptionError: naming the first bad option (`SearchConfig.check`), a
            worker ID already running, or the chief a worker lost (an
            `EnvironmentOptionError` naming the `KERASTUNER_*` variable for
            a process they launched).
        DataSourceError: when no source has the data set.
        FolderBusyError: when another process writes the project folder.
        RunStateError: when no trial completed.

    Example:
    >>> tuner, best = search("fashion_mnist", max_trials=2, epochs=1, depths=(11,))
    """
    if isinstance(dataset, SearchConfig):
        config, dataset = dataset, None
    if config is None:
        config = SearchConfig.with_role(options.pop("role", None), dataset=dataset, **options)
    elif options or dataset is not None:
        raise TypeError("pass either a SearchConfig or the options, not both")
    config.check()
    role = config.role()
    is_worker = role is not None and role[0] == "worker"
    launched_by = {name: os.environ.get(name) for name in TUNER_VARIABLES}
    if role is not None:
        use_chief_oracle(role)
    try:
        return _search_as(config, role, is_worker)
    except OptionError as error:
        if config.chief or config.worker is not None:
            raise
        raise _naming_variable(error, launched_by) from None


def _search_as(config, role, is_worker):
    """`search` once the process's part is known: a worker's lock and watchdog, the search."""
    project = os.path.join(config.directory, config.project_name)
    ctrl_c = ctrl_c_between_batches.CtrlCBetweenBatches()  # also how a lost chief stops a trial
    with contextlib.ExitStack() as stack:
        watch = None
        if is_worker:  # one process per ID; the chief watched while it works
            stack.enter_context(search_worker.worker_lock(project, role[1]))
            watch = stack.enter_context(search_worker.ChiefWatch(
                role[2], config.oracle_timeout, on_lost=ctrl_c.request))
        try:
            return _load_and_search(config, project, is_worker, ctrl_c)
        except KeyboardInterrupt:
            if watch is not None and watch.lost:
                raise watch.message() from None
            raise


def _naming_variable(error, launched_by):
    """`error` naming keras-tuner's variable that launched the process instead of a flag.

    Args:
        error: an `OptionError` of `worker` or `oracle` (others are returned).
        launched_by: the `KERASTUNER_*` variables as the process got them.

    Returns:
        An `EnvironmentOptionError`, or `error`.
    """
    name = {"worker": "KERASTUNER_TUNER_ID", "oracle": "KERASTUNER_ORACLE_IP"}.get(error.option)
    if name is None or launched_by[name] is None:
        return error
    return EnvironmentOptionError(name, launched_by[name], error.requirement)


def _load_and_search(config, project, is_worker, ctrl_c):
    """Loads the data, locks the project (the chief) and searches; `search`'s result.

    `ctrl_c` is the search's `ctrl_c_between_batches.CtrlCBetweenBatches`.
    """
    devices = distribute.configure(config.cpu_replicas)
    (x_train, y_train), (x_test, y_test), info = data.load_splits(
        config.dataset, **config.data_options())
    _check_batch_sizes(config, info.train_examples, devices.replicas)
    hypermodel = hypermodels.ProcrustesResNetHyperModel(
        info.input_shape, info.classes, block_type=config.block_type, depths=config.depths,
        batch_sizes=config.batch_sizes, replicas=devices.replicas,
        preprocessing=(info.mean, info.std), seed=config.seed,
        image_size=config.image_size, channels=config.channels)
    lock = folder_lock.NoLock() if is_worker else _lock_project(project, config)
    with lock:
        return _search(config, hypermodel, devices, project, is_worker, ctrl_c,
                       ((x_train, y_train), (x_test, y_test), info))


def _search(config, hypermodel, devices, project, is_worker, ctrl_c, splits):
    """`search` once the project is locked: the tuner, its search, the results."""
    (x_train, y_train), (x_test, y_test), info = splits
    search_tuner = hypermodels.make_tuner(
        hypermodel, kind=config.tuner, max_trials=config.max_trials, objective=config.objective,
        directory=config.directory, project_name=config.project_name,
        max_epochs=config.epochs, seed=config.seed,
        distribution_strategy=devices.strategy if devices.replicas > 1 else None)
    with ctrl_c:
        search_tuner.search(
            x_train, y_train, validation_data=(x_test, y_test), epochs=config.epochs,
            verbose=config.verbose,
            callbacks=[nan_guard.NaNGuard(), training_monitor.TrainingMonitor(info.train_examples),
                       _tensorboard(project), ctrl_c])
    if is_worker:
        return search_tuner, None
    return _save_best(search_tuner, project)


def _check_batch_sizes(config, train_examples, replicas):
    """Refuses batch sizes whose global batch is more than the training set, on several replicas.

    Raises:
        OptionError: naming `batch_sizes`.
    """
    too_big = [size for size in config.batch_sizes if size * replicas > train_examples]
    if replicas > 1 and too_big:
        raise OptionError(
            "batch_sizes", " ".join(map(str, config.batch_sizes)),
            f"the global batch of {too_big[0]} ({too_big[0] * replicas} on {replicas} replicas) "
            f"is more than the {train_examples} training images, and several replicas train "
            "on whole batches only: lower --batch-sizes or use more images")


def _lock_project(project, config):
    """Locks the project folder, checks it again under the lock, and marks it as this package's.

    Returns:
        The `FolderLock`.

    Raises:
        FolderBusyError: when another process writes the project.
        OptionError: when the project changed before the lock (e.g. a
            training run took it).
    """
    lock = folder_lock.make_and_acquire(project, "tune")
    try:
        check_project(config.directory, config.project_name, config.overwrite)
        if config.overwrite:
            clear_project(project, keep=run_names.LOCK_FILE)
        if not os.path.exists(os.path.join(project, SEARCH_MARKER)):
            write_json(os.path.join(project, SEARCH_MARKER), {"kind": "tune", "dataset": config.dataset})
    except BaseException:
        lock.release()
        raise
    return lock


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

    # No conceptual graph: TensorBoard reads Keras 3's as a malformed GraphDef
    # (see training.callbacks.run_tensorboard).
    return keras.callbacks.TensorBoard(os.path.join(project, "tensorboard"), write_graph=False)


def _save_best(search_tuner, project):
    """Writes `best_hyperparameters.json` and `best.keras`, of the best completed trial."""
    trials = search_tuner.oracle.trials.values()
    if not any(trial.status == "COMPLETED" for trial in trials):
        raise RunStateError(f"no trial of the search in {project} completed{_why(trials)}")
    best = search_tuner.get_best_hyperparameters(1)[0].values
    write_json(os.path.join(project, run_names.BEST_HYPERPARAMETERS), best)
    path = os.path.join(project, run_names.BEST_MODEL)
    with writing(path, os.path.join(project, run_names.BEST_PARTIAL)) as partial:
        search_tuner.get_best_models(1)[0].save(partial)
    return search_tuner, best


def _why(trials):
    """`: the last failed with ...`, from the last failed trial's error, or nothing."""
    failed = [trial for trial in trials if trial.status == "FAILED" and trial.message]
    if not failed:
        return ""
    lines = [line.strip() for line in failed[-1].message.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"[\w.]*(Error|Exception)\b", line)]
    return f": the last failed with {(errors or lines)[-1]}"  # not JAX's note after it
