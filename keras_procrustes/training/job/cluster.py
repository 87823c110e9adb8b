"""The job a run asks for: its processes and devices, from options and environment, checked.

Several processes train as one job on JAX (`keras.distribution` over
`jax.distributed`); the options `coordinator`, `num_processes` and
`process_id` default to Keras' `KERAS_DISTRIBUTION_*` variables. A
`TF_CONFIG` asking for several workers is refused: tf.distribute's
multi-worker strategy is broken with Keras 3.
"""

import json
import os
import re

from keras_procrustes.checks import MAX_COUNT
from keras_procrustes.checks import is_count
from keras_procrustes.checks import is_int
from keras_procrustes.training.errors import EnvironmentOptionError
from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.errors import address_problem
from keras_procrustes.training.job import distribute

# keras.distribution.initialize reads these when the options are not given.
CLUSTER_ENVIRONMENT = {
    "coordinator": "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "num_processes": "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "process_id": "KERAS_DISTRIBUTION_PROCESS_ID",
}
MULTI_WORKER_ISSUE = "https://github.com/keras-team/keras/issues/20585"


def cluster_of(config):
    """`(coordinator, num_processes, process_id)`, options else environment.

    Args:
        config: a `TrainingConfig`.

    Returns:
        The triple, or `None` when the run is a single process.
    """
    values = {}
    for name, variable in CLUSTER_ENVIRONMENT.items():
        value = getattr(config, name)
        if value is None and os.environ.get(variable):
            value = os.environ[variable]
            if name != "coordinator":
                value = int(value) if re.fullmatch(r"\d+", value.strip()) else value
        values[name] = value
    if all(value is None for value in values.values()):
        return None
    return values["coordinator"], values["num_processes"], values["process_id"]


def check_job(config, backend):
    """Checks the devices and processes `config` asks for on `backend`.

    Args:
        config: a `TrainingConfig` whose single options are checked.
        backend: `keras.backend.backend()`.

    Raises:
        OptionError: naming the option, or an `EnvironmentOptionError`
            naming the variable, that asks for what can't run here.
    """
    check_tf_config(backend)
    if config.cpu_replicas > 1:
        distribute.check_svd_engine(config.projection_engine, config.cpu_replicas)
        if backend not in ("tensorflow", "jax"):
            raise OptionError("cpu_replicas", config.cpu_replicas,
                              f"needs KERAS_BACKEND=tensorflow or jax; Keras trains on one "
                              f"device on {backend}")
    _check_cluster(config, backend)


def _check_cluster(config, backend):
    cluster = cluster_of(config)
    if cluster is None:
        return
    names = list(CLUSTER_ENVIRONMENT)
    values = dict(zip(names, cluster))
    if backend != "jax":
        name = next(n for n in names if getattr(config, n) is not None or os.environ.get(
            CLUSTER_ENVIRONMENT[n]))
        why = (f"tf.distribute across machines is broken with Keras 3 "
               f"({MULTI_WORKER_ISSUE})" if backend == "tensorflow" else
               f"Keras has no distribution on {backend}")
        raise _cluster_error(config, name, values[name], "needs KERAS_BACKEND=jax "
                             f"(keras.distribution over jax.distributed); {why}")
    _check_cluster_values(config, cluster)
    _check_cluster_complete(config, values)
    coordinator, num_processes, process_id = cluster
    if process_id >= num_processes:
        raise _cluster_error(config, "process_id", process_id,
                             f"must be an int from 0 to {num_processes - 1}")
    if config.grad_norm_every:
        raise OptionError("grad_norm_every", config.grad_norm_every,
                          "is not measured in a job of several processes; pass 0")


def _check_cluster_values(config, cluster):
    """Every value given (option or variable), before what is missing."""
    coordinator, num_processes, process_id = cluster
    if coordinator is not None:
        problem = address_problem(coordinator, "of process 0")
        if problem:
            raise _cluster_error(config, "coordinator", coordinator, problem)
    if num_processes is not None and not is_count(num_processes):
        raise _cluster_error(config, "num_processes", num_processes,
                             f"must be an int from 1 to {MAX_COUNT}")
    if process_id is not None and not (is_int(process_id) and 0 <= process_id < MAX_COUNT):
        raise _cluster_error(config, "process_id", process_id,
                             f"must be an int from 0 to {MAX_COUNT - 1}")


def _check_cluster_complete(config, values):
    names = list(CLUSTER_ENVIRONMENT)
    missing = [n for n in names if values[n] is None]
    if not missing:
        return
    given = [n for n in names if getattr(config, n) is not None]
    need = {"coordinator": "HOST:PORT", "num_processes": "N", "process_id": "I"}
    if given:
        wanted = " and ".join(f"--{n.replace('_', '-')} {need[n]}" for n in missing)
        raise OptionError(given[0], values[given[0]], f"needs {wanted} too "
                          f"(or {', '.join(CLUSTER_ENVIRONMENT[n] for n in missing)})")
    name = next(n for n in names if values[n] is not None)
    raise EnvironmentOptionError(
        CLUSTER_ENVIRONMENT[name], values[name], "needs "
        f"{' and '.join(CLUSTER_ENVIRONMENT[n] for n in missing)} too")


def as_given(config, error):
    """`error` about a job option, naming its variable where the option was not given.

    Args:
        config: the `TrainingConfig`.
        error: an `OptionError`.

    Returns:
        An `EnvironmentOptionError` for a job option that came from its
        `KERAS_DISTRIBUTION_*` variable, else `error`.
    """
    if error.option not in CLUSTER_ENVIRONMENT:
        return error
    return _cluster_error(config, error.option, error.value, error.requirement)


def _cluster_error(config, name, value, requirement):
    if getattr(config, name) is None:
        return EnvironmentOptionError(CLUSTER_ENVIRONMENT[name], value, requirement)
    return OptionError(name, value, requirement)


def check_tf_config(backend="tensorflow"):
    """Refuses a `TF_CONFIG` that asks for several workers.

    On TensorFlow it would ask for `MultiWorkerMirroredStrategy`; on JAX and
    torch it would be ignored, and the run would train alone in silence.

    Args:
        backend: `keras.backend.backend()`.

    Raises:
        EnvironmentOptionError: naming `TF_CONFIG`.
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return
    try:
        cluster = json.loads(raw).get("cluster", {})
        tasks = sum(len(addresses) for addresses in cluster.values())
    except (ValueError, AttributeError, TypeError):
        raise EnvironmentOptionError("TF_CONFIG", raw, "is not valid JSON") from None
    if tasks > 1 and backend != "tensorflow":
        on = "" if backend == "jax" else " on KERAS_BACKEND=jax"
        raise EnvironmentOptionError(
            "TF_CONFIG", raw, f"is TensorFlow's multi-worker setting, which the {backend} "
            f"backend ignores (this process would train alone); unset it and run several "
            f"processes{on} with --coordinator/--num-processes/--process-id (or the "
            "KERAS_DISTRIBUTION_* variables)")
    if tasks > 1:
        raise EnvironmentOptionError(
            "TF_CONFIG", raw, "asks for tf.distribute's MultiWorkerMirroredStrategy, which "
            f"is broken with Keras 3 ({MULTI_WORKER_ISSUE}); train on several machines "
            "with KERAS_BACKEND=jax and --coordinator/--num-processes/--process-id")
