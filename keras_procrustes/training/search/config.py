"""A hyperparameter search's options: defaults, help and rules, checked by the config itself.

`SearchConfig` is to `search` what `TrainingConfig` is to `fit`: it holds
every option of the search and of the `tune` command (which generates its
flags from the fields), and `check()` raises an `OptionError` naming the
first bad one. keras-tuner's distributed search (a chief serving the oracle
over gRPC, workers taking trials) is asked for with `chief`, `worker` and
`oracle`, or keras-tuner's own `KERASTUNER_*` variables.
"""

import dataclasses
import json
import os
import re

from keras_procrustes.checks import BLOCK_TYPES
from keras_procrustes.checks import is_positive_int
from keras_procrustes.training.config import DataOptions
from keras_procrustes.training.config import TrainingConfig
from keras_procrustes.training.config import option
from keras_procrustes.training.errors import EnvironmentOptionError
from keras_procrustes.training.errors import FlagError
from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.errors import address_problem
from keras_procrustes.training.run import names as run_names

TUNER_VARIABLES = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")

_JOB = ("several processes (keras-tuner's distributed search: a chief oracle and "
        "workers over gRPC; --directory must be a folder every process sees)")


@dataclasses.dataclass
class SearchConfig(DataOptions):
    """Every option of a keras-tuner search over Procrustes ResNets.

    Attributes:
        tuner: `"random"`, `"hyperband"` or `"bayesian"`.
        max_trials: trials for random and Bayesian search.
        epochs: epochs per trial (Hyperband's maximum).
        block_type: `"bottleneck"` or `"basic"`.
        depths: depths to choose from (He et al.'s count).
        batch_sizes: batch sizes per replica to choose from.
        objective: the metric to optimise.
        directory: the tuner's directory.
        project_name: a plain folder name inside it.
        overwrite: start over (deletes only the search's own files).
        chief: serve the search's oracle at `oracle`; train nothing.
        worker: this worker's ID, to train the trials the chief hands out
            (a worker restarted with the same ID takes up its trial).
        oracle: `"HOST:PORT"` of the chief.
        oracle_timeout: seconds a worker goes on without reaching the
            chief before it stops with one line naming it.

    The data options are those of `DataOptions`.
    """

    tuner: str = option("random", "random, hyperband or bayesian")
    max_trials: int = option(10)
    epochs: int = option(10, "per trial (Hyperband's maximum)")
    block_type: str = option("bottleneck", " or ".join(BLOCK_TYPES))
    depths: tuple = option((164, 272), "He et al.'s count", nargs="+", type=int)
    batch_sizes: tuple = option((64, 128, 256), "per replica", nargs="+", type=int)
    objective: str = option("val_accuracy")
    directory: str = option("runs/tuning")
    project_name: str = option("procresnet", "a plain folder name")
    overwrite: bool = option(False, "start over (deletes only the search's own files)")
    chief: bool = option(False, "serve the search's oracle at --oracle; trains nothing",
                         group=_JOB)
    worker: str = option(None, "train trials the chief hands out; restart a killed worker "
                         "with the same ID to retry its trial", metavar="ID", group=_JOB)
    oracle: str = option(None, "the chief's address (KERASTUNER_ORACLE_IP/PORT)",
                         metavar="HOST:PORT", group=_JOB)
    oracle_timeout: int = option(120, "seconds a worker waits for the chief to answer (at "
                                 "its start, or once the chief is gone); then it stops "
                                 "naming the chief", group=_JOB)

    def check(self):
        """Checks every option, then the project folder and keras-tuner's variables.

        Raises:
            OptionError: naming the first bad option (an
                `EnvironmentOptionError` for a bad `KERASTUNER_*` variable).
        """
        self._check_devices()
        TrainingConfig(model=None, epochs=self.epochs, **self.data_fields()).check()
        self._check_search_space()
        role = self.role()
        if role is None or role[0] == "chief":
            check_project(self.directory, self.project_name, self.overwrite)

    def data_fields(self):
        """The `DataOptions` fields, as a dict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(DataOptions)}

    def _check_devices(self):
        import keras

        from keras_procrustes.training.job import distribute

        backend = keras.backend.backend()
        if self.cpu_replicas > 1 and backend != "tensorflow":
            why = distribute.svd_hang(self.cpu_replicas) or (
                f"Keras trains on one device on {backend}")
            raise OptionError("cpu_replicas", self.cpu_replicas,
                              f"needs KERAS_BACKEND=tensorflow for a search ({why})")

    def _check_search_space(self):
        from keras_procrustes import models
        from keras_procrustes.training.search import hypermodel as hypermodels

        if self.tuner not in hypermodels.TUNERS:
            raise OptionError("tuner", self.tuner, f"must be one of {', '.join(hypermodels.TUNERS)}")
        if not is_positive_int(self.oracle_timeout):
            raise OptionError("oracle_timeout", self.oracle_timeout,
                              "must be a positive int (seconds)")
        if not is_positive_int(self.max_trials):
            raise OptionError("max_trials", self.max_trials, "must be a positive int")
        for size in self.batch_sizes:
            if not is_positive_int(size):
                raise OptionError("batch_sizes", size, "must be positive ints")
        if self.objective not in hypermodels.OBJECTIVES:
            raise OptionError("objective", self.objective,
                              f"must be one of {', '.join(hypermodels.OBJECTIVES)}")
        if self.block_type not in BLOCK_TYPES:
            raise OptionError("block_type", self.block_type,
                              f"must be one of {', '.join(BLOCK_TYPES)}")
        for depth in self.depths:
            try:
                models.blocks_per_stage(depth, self.block_type)
            except ValueError as error:
                raise OptionError("depths", depth, str(error)) from None

    def role(self):
        """The process's part in a distributed search, checked.

        Without `chief` and `worker`, keras-tuner's own variables say it
        (`environment_role`), so that both ways of launching a process give
        it the same part, lock and watchdog.

        Returns:
            `None` for a search in this process alone, `("chief",
            "HOST:PORT")` or `("worker", ID, "HOST:PORT")`.

        Raises:
            OptionError: for `chief`, `worker` and `oracle` that don't fit
                together, or a bad worker ID or address (an
                `EnvironmentOptionError` for a bad `KERASTUNER_*` variable).
        """
        if not self.chief and self.worker is None:
            if self.oracle is not None:
                raise OptionError("oracle", self.oracle, "needs --chief or --worker ID")
            return environment_role()
        if self.chief and self.worker is not None:
            raise OptionError("worker", self.worker, "a process is --chief or a worker, not both")
        if self.worker is not None and _worker_id_problem(self.worker):
            raise OptionError("worker", self.worker, _worker_id_problem(self.worker))
        if self.oracle is None:
            if self.chief:
                raise FlagError("chief", True, "needs --oracle HOST:PORT (the address to serve "
                                "the search's oracle at)")
            raise OptionError("worker", self.worker, "needs --oracle HOST:PORT (the chief's "
                              "address)")
        problem = address_problem(self.oracle, "of the chief")
        if problem:
            raise OptionError("oracle", self.oracle, problem)
        return ("chief", self.oracle) if self.chief else ("worker", self.worker, self.oracle)

    @classmethod
    def with_role(cls, role, **options):
        """A `SearchConfig` from a `role` tuple (as `role()` returns) and options.

        Args:
            role: `None`, `("chief", "HOST:PORT")` or `("worker", ID, "HOST:PORT")`.
            **options: the other fields.

        Returns:
            A `SearchConfig` (not yet checked).
        """
        if role is not None and role[0] == "chief":
            options.update(chief=True, oracle=role[1])
        elif role is not None:
            options.update(worker=role[1], oracle=role[2])
        return cls(**options)


def check_tuner_environment():
    """Checks keras-tuner's own variables for a distributed search.

    keras-tuner reads `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT` and
    `KERASTUNER_TUNER_ID` when a tuner is made (with no `chief` or
    `worker`, which set them); a bad value would end in gRPC's traceback
    after the search folder is made.

    Raises:
        EnvironmentOptionError: naming the bad or missing variable.
    """
    given = {name: os.environ[name] for name in TUNER_VARIABLES if name in os.environ}
    if "KERASTUNER_ORACLE_IP" not in given:
        return  # keras-tuner searches in this process alone
    ip = given["KERASTUNER_ORACLE_IP"]
    if "KERASTUNER_ORACLE_PORT" in given:
        port = given["KERASTUNER_ORACLE_PORT"]
        if address_problem(f"{ip or 'host'}:{port}", ""):
            raise EnvironmentOptionError("KERASTUNER_ORACLE_PORT", port,
                                         "must be a port of the chief, 1-65535")
    if not ip.strip():
        raise EnvironmentOptionError("KERASTUNER_ORACLE_IP", ip, "must be the chief's host")
    for name in TUNER_VARIABLES:
        if name not in given:
            present = next(n for n in TUNER_VARIABLES if n in given)
            raise EnvironmentOptionError(present, given[present], f"needs {name} too (or "
                                         "pass --chief/--worker ID with --oracle HOST:PORT)")


def environment_role():
    """The process's part in a distributed search, from keras-tuner's variables.

    keras-tuner launches a distributed search with `KERASTUNER_TUNER_ID`,
    `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`; the tuner whose ID
    holds "chief" serves the oracle. A worker's ID is the variable's value
    less a leading `worker-` (the ID `--worker ID` gives keras-tuner), so
    `KERASTUNER_TUNER_ID=worker-a` and `--worker a` are the same worker.

    Returns:
        `None` without `KERASTUNER_ORACLE_IP`, else `("chief", "HOST:PORT")`
        or `("worker", ID, "HOST:PORT")`, as `SearchConfig.role` gives them.

    Raises:
        EnvironmentOptionError: naming the bad or missing variable.
    """
    check_tuner_environment()
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    host = os.environ["KERASTUNER_ORACLE_IP"].strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    address = f"{host}:{os.environ['KERASTUNER_ORACLE_PORT'].strip()}"
    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    if "chief" in tuner_id:
        return ("chief", address)
    worker_id = tuner_id.removeprefix("worker-")
    if _worker_id_problem(worker_id):
        raise EnvironmentOptionError("KERASTUNER_TUNER_ID", tuner_id,
                                     _worker_id_problem(worker_id))
    return ("worker", worker_id, address)


def _worker_id_problem(worker_id):
    """Why `worker_id` is not a worker ID, or `None` when it is."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", worker_id) or "chief" in worker_id:
        return "must be letters, digits, '-', '_' (and not contain 'chief')"
    return None


def check_project(directory, project_name, overwrite):
    """Refuses a project that is not a plain name, or not this package's.

    Args:
        directory: the tuner's directory.
        project_name: its project name.
        overwrite: whether the search starts over.

    Returns:
        The project folder.

    Raises:
        OptionError: naming the bad option.
    """
    from keras_procrustes.training.search import hypermodel as hypermodels

    try:
        hypermodels.check_project_name(project_name)
    except ValueError:
        raise OptionError("project_name", project_name,
                          "must be a plain folder name (letters, digits, '.', '_', '-')") from None
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise OptionError("directory", directory, "is a file, not a folder")
    project = os.path.join(directory, project_name)
    if os.path.exists(project) and not os.path.isdir(project):
        raise OptionError("project_name", project_name, f"{project} is a file")
    entries = [name for name in (os.listdir(project) if os.path.isdir(project) else [])
               # a worker's lock, or the folder's lock (free folders hold it)
               if not (run_names.WORKER_LOCKS.fullmatch(name) or name == run_names.LOCK_FILE)]
    ours = run_names.SEARCH_MARKER in entries
    if run_names.MANIFEST in entries and not ours:
        raise OptionError("project_name", project_name,
                          f"{project} holds a training run of keras-procrustes-train")
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
