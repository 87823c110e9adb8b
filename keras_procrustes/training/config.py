"""A training run's options, checked once, at the public edge.

`TrainingConfig` holds every option of `fit` and of the `train` command.
`check()` raises an `OptionError` naming the first bad option and its value;
the library shows it as `lr=nan: ...`, the command as `--lr nan: ...`.
"""

import dataclasses
import json
import math
import os
import re

from keras_procrustes.data.datasets import DATASET_NAMES as DATASETS

EXISTING = ("resume", "new", "refuse")
MIXED_PRECISION = ("none", "float16", "bfloat16")
JIT_COMPILE = ("auto", "true", "false")
PROJECTION_ENGINES = ("svd", "newton_schulz")
# keras.distribution.initialize reads these when the options are not given.
CLUSTER_ENVIRONMENT = {
    "coordinator": "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "num_processes": "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "process_id": "KERAS_DISTRIBUTION_PROCESS_ID",
}
MULTI_WORKER_ISSUE = "https://github.com/keras-team/keras/issues/20585"
MIN_IMAGE_SIZE = 8

# Options that define a run: a resumed run must have the same ones.
RUN_DEFINING = (
    "model", "dataset", "max_train_examples", "max_test_examples", "image_size",
    "channels", "epochs", "batch_size", "lr", "momentum", "weight_decay",
    "projection_probability", "projection_engine", "seed", "mixed_precision", "remat",
    "cpu_replicas",
)


class OptionError(ValueError):
    """A bad option value.

    Attributes:
        option: the option's name, as in `TrainingConfig`.
        value: the value received.
        requirement: what the value must be.
    """

    def __init__(self, option, value, requirement):
        self.option, self.value, self.requirement = option, value, requirement
        super().__init__(f"{option}={value!r}: {requirement}")

    def for_command_line(self):
        """The message as `--option value: requirement`."""
        return f"--{self.option.replace('_', '-')} {self.value}: {self.requirement}"


class EnvironmentOptionError(OptionError):
    """A bad value of an environment variable (e.g. `TF_CONFIG`).

    The command shows it as `NAME=value: requirement`.
    """

    def for_command_line(self):
        """The message as `NAME=value: requirement`."""
        return f"{self.option}={self.value}: {self.requirement}"


class FlagError(OptionError):
    """A flag (an option without a value, or one needing another) used wrongly.

    The command shows it as `--option: requirement`, e.g. `--chief needs
    --oracle HOST:PORT`.
    """

    def for_command_line(self):
        """The message as `--option requirement`."""
        return f"--{self.option.replace('_', '-')} {self.requirement}"


def address_problem(address, what):
    """Why `address` is not `HOST:PORT` (port 1-65535), or `None` when it is.

    Args:
        address: the value to check (any type).
        what: what the address is, for the message (e.g. "of process 0").

    Returns:
        A requirement string, or `None`.
    """
    host, _, port = str(address).rpartition(":")
    if address is None or not host or not re.fullmatch(r"\d{1,5}", port) \
            or not 0 < int(port) < 65536:
        return f"must be HOST:PORT {what} (port 1-65535)"
    return None


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value):
    return _is_int(value) and value > 0


def _optional_positive_int(value):
    return value is None or _positive_int(value)


def _finite(value, low, high=math.inf, high_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return low <= value and (value < high if high_open else value <= high)


CHECKS = {
    "epochs": (_positive_int, "must be a positive int"),
    "batch_size": (_positive_int, "must be a positive int (examples per replica)"),
    "lr": (lambda v: _finite(v, 0) and v > 0, "must be a finite positive number"),
    "momentum": (lambda v: _finite(v, 0, 1, high_open=True), "must be in [0, 1)"),
    "weight_decay": (lambda v: _finite(v, 0), "must be a finite number >= 0"),
    "projection_probability": (lambda v: _finite(v, 0, 1), "must be in [0, 1]"),
    "seed": (lambda v: _is_int(v) and 0 <= v < 2**31, "must be an int in [0, 2**31)"),
    "max_train_examples": (_optional_positive_int, "must be a positive int"),
    "max_test_examples": (_optional_positive_int, "must be a positive int"),
    "image_size": (
        lambda v: v is None or (_is_int(v) and MIN_IMAGE_SIZE <= v <= 1024),
        f"must be an int from {MIN_IMAGE_SIZE} to 1024",
    ),
    "channels": (lambda v: v in (None, 1, 3), "must be 1 or 3"),
    "cpu_replicas": (lambda v: _is_int(v) and 0 <= v <= 64, "must be an int from 0 to 64"),
    "grad_norm_every": (lambda v: _is_int(v) and v >= 0, "must be an int >= 0 (0: never)"),
    "grad_norm_examples": (_positive_int, "must be a positive int"),
    "verbose": (lambda v: v in (0, 1, 2), "must be 0, 1 or 2"),
    "dataset": (lambda v: v in DATASETS, f"must be one of {', '.join(DATASETS)}"),
    "existing": (lambda v: v in EXISTING, f"must be one of {', '.join(EXISTING)}"),
    "mixed_precision": (lambda v: v in MIXED_PRECISION, f"must be one of {MIXED_PRECISION}"),
    "jit_compile": (lambda v: str(v).lower() in JIT_COMPILE, "must be auto, true or false"),
    "projection_engine": (lambda v: v in PROJECTION_ENGINES,
                          f"must be one of {', '.join(PROJECTION_ENGINES)}"),
}


@dataclasses.dataclass
class TrainingConfig:
    """Every option of a training run; defaults are the paper's recipe.

    Attributes:
        model: a `models.get` name (e.g. `"procresnet166"`,
            `"resnet164_baseline"`).
        dataset: `"cifar10"`, `"cifar100"` or `"fashion_mnist"`, or
            `"arrays"` for arrays given to `fit`.
        data_dir: a folder or archive with a local copy of the data.
        download: allow tensorflow-datasets to download.
        max_train_examples: use only the first this many training examples.
        max_test_examples: likewise for the test split.
        image_size: pad or resize images to this square size.
        channels: `3` turns grey images into RGB.
        epochs: epochs in the run; the lr schedule scales to it.
        batch_size: examples per replica and step.
        lr: learning rate for one replica (scaled by the replica count).
        momentum: SGD momentum.
        weight_decay: the paper's L2 coefficient.
        projection_probability: chance of projecting at a step.
        projection_engine: `"svd"` or `"newton_schulz"` (see the builders).
        seed: weights, data order, augmentation and projection draws.
        mixed_precision: `"none"`, `"float16"` or `"bfloat16"`.
        jit_compile: `"auto"`, `"true"` or `"false"`.
        remat: recompute residual blocks in the backward pass.
        backup: back up every epoch, so a killed run resumes.
        grad_norm_every: log the per-block gradient norm ratios every this
            many epochs (0: never), on a probe batch of the test split.
        grad_norm_examples: the probe batch's size.
        cpu_replicas: train on this many logical CPU devices (per process).
        coordinator: `"HOST:PORT"` of process 0, to train as one of
            `num_processes` processes (JAX, `keras.distribution`); default
            `$KERAS_DISTRIBUTION_JOB_ADDRESSES`.
        num_processes: processes in the job; default
            `$KERAS_DISTRIBUTION_NUM_PROCESSES`.
        process_id: this process's index, 0 to `num_processes - 1`; default
            `$KERAS_DISTRIBUTION_PROCESS_ID`. Only process 0 reads and writes
            the run folder.
        log_dir: the run's folder; default `runs/MODEL-DATASET`.
        existing: what to do when `log_dir` holds a run: `"resume"` an
            unfinished one (a finished one is refused), start a `"new"`
            numbered run beside it, or `"refuse"`.
        verbose: 0, 1 (progress bar) or 2 (a line per epoch).
    """

    model: str = "procresnet166"
    dataset: str = "cifar10"
    data_dir: str = None
    download: bool = True
    max_train_examples: int = None
    max_test_examples: int = None
    image_size: int = None
    channels: int = None
    epochs: int = 300
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    projection_probability: float = 0.5
    projection_engine: str = "svd"
    seed: int = 0
    mixed_precision: str = "none"
    jit_compile: str = "auto"
    remat: bool = False
    backup: bool = True
    grad_norm_every: int = 0
    grad_norm_examples: int = 32
    cpu_replicas: int = 0
    coordinator: str = None
    num_processes: int = None
    process_id: int = None
    log_dir: str = None
    existing: str = "resume"
    verbose: int = 1

    def check(self):
        """Raises an `OptionError` naming the first bad option."""
        for name, (is_valid, requirement) in CHECKS.items():
            value = getattr(self, name)
            if name == "dataset" and value == "arrays":
                continue
            if not is_valid(value):
                raise OptionError(name, value, requirement)
        self._check_backend()
        self._check_model()

    def _check_backend(self):
        import keras

        backend = keras.backend.backend()
        _check_tf_config(backend)
        if (self.cpu_replicas > 1 and backend == "jax"
                and self.projection_engine == "svd"):
            raise OptionError(
                "projection_engine", "svd", f"hangs with --cpu-replicas {self.cpu_replicas} "
                "on JAX (jaxlib's batched CPU SVD waits for threads the other CPU devices "
                "hold); pass --projection-engine newton_schulz")
        elif self.cpu_replicas > 1 and backend not in ("tensorflow", "jax"):
            raise OptionError("cpu_replicas", self.cpu_replicas,
                              f"needs KERAS_BACKEND=tensorflow or jax; Keras trains on one "
                              f"device on {backend}")
        self._check_cluster(backend)

    def cluster(self):
        """`(coordinator, num_processes, process_id)`, options else environment.

        Returns:
            The triple, or `None` when the run is a single process.
        """
        values = {}
        for name, variable in CLUSTER_ENVIRONMENT.items():
            value = getattr(self, name)
            if value is None and os.environ.get(variable):
                value = os.environ[variable]
                if name != "coordinator":
                    value = int(value) if re.fullmatch(r"\d+", value.strip()) else value
            values[name] = value
        if all(value is None for value in values.values()):
            return None
        return values["coordinator"], values["num_processes"], values["process_id"]

    def _check_cluster(self, backend):
        cluster = self.cluster()
        if cluster is None:
            return
        names = list(CLUSTER_ENVIRONMENT)
        values = dict(zip(names, cluster))
        if backend != "jax":
            name = next(n for n in names if getattr(self, n) is not None or os.environ.get(
                CLUSTER_ENVIRONMENT[n]))
            why = (f"tf.distribute across machines is broken with Keras 3 "
                   f"({MULTI_WORKER_ISSUE})" if backend == "tensorflow" else
                   f"Keras has no distribution on {backend}")
            raise self._cluster_error(name, values[name], "needs KERAS_BACKEND=jax "
                                      f"(keras.distribution over jax.distributed); {why}")
        # Every value given (option or variable) first, then what is missing.
        coordinator, num_processes, process_id = cluster
        if coordinator is not None:
            problem = address_problem(coordinator, "of process 0")
            if problem:
                raise self._cluster_error("coordinator", coordinator, problem)
        if num_processes is not None and not _positive_int(num_processes):
            raise self._cluster_error("num_processes", num_processes, "must be a positive int")
        if process_id is not None and not (_is_int(process_id) and process_id >= 0):
            raise self._cluster_error("process_id", process_id, "must be an int >= 0")
        missing = [n for n in names if values[n] is None]
        if missing:
            given = [n for n in names if getattr(self, n) is not None]
            need = {"coordinator": "HOST:PORT", "num_processes": "N", "process_id": "I"}
            if given:
                wanted = " and ".join(f"--{n.replace('_', '-')} {need[n]}" for n in missing)
                raise OptionError(given[0], values[given[0]], f"needs {wanted} too "
                                  f"(or {', '.join(CLUSTER_ENVIRONMENT[n] for n in missing)})")
            name = next(n for n in names if values[n] is not None)
            raise EnvironmentOptionError(
                CLUSTER_ENVIRONMENT[name], values[name], "needs "
                f"{' and '.join(CLUSTER_ENVIRONMENT[n] for n in missing)} too")
        if process_id >= num_processes:
            raise self._cluster_error("process_id", process_id,
                                      f"must be an int from 0 to {num_processes - 1}")
        if self.grad_norm_every:
            raise OptionError("grad_norm_every", self.grad_norm_every,
                              "is not measured in a job of several processes; pass 0")

    def _cluster_error(self, name, value, requirement):
        if getattr(self, name) is None:
            return EnvironmentOptionError(CLUSTER_ENVIRONMENT[name], value, requirement)
        return OptionError(name, value, requirement)

    def _check_model(self):
        from keras_procrustes import models

        if self.model is None:  # a model object given to `fit`
            return
        if not isinstance(self.model, str) or not re.fullmatch(r"[A-Za-z0-9_]+", self.model):
            raise OptionError("model", self.model, "must be a model name (see --help)")
        try:
            models.canonical_name(self.model)
        except models.UnknownModelName as error:
            raise OptionError(
                "model", self.model, f"{error.reason}. Presets: "
                f"{', '.join(models.list_models())} (see README, Using the models)"
            ) from None

    def run_options(self):
        """The options that define the run, as a plain dict.

        The model is recorded under its canonical name (`procresnet166` for
        `resnet164`), so a run resumes whatever the name it was given.
        """
        options = {name: getattr(self, name) for name in RUN_DEFINING}
        if isinstance(self.model, str):
            from keras_procrustes import models

            options["model"] = models.canonical_name(self.model)
        return options

    @property
    def jit(self):
        """`jit_compile` as `model.compile` takes it."""
        return {"auto": "auto", "true": True, "false": False}[str(self.jit_compile).lower()]


def _check_tf_config(backend="tensorflow"):
    """Refuses a `TF_CONFIG` that asks for several workers.

    On TensorFlow it would ask for `MultiWorkerMirroredStrategy`; on JAX and
    torch it would be ignored, and the run would train alone in silence.
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
