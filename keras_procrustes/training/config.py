"""A training run's options: their defaults, help and rules, checked once, at the public edge.

`TrainingConfig` holds every option of `fit` and of the `train` command.
Each field carries its help text (and, where it differs from `--name`, its
flag) in its metadata; the commands generate their flags from the fields,
so a default lives here only. `check()` raises an `OptionError` naming the
first bad option and its value; the library shows it as `lr=nan: ...`, the
command as `--lr nan: ...`.
"""

import dataclasses
import re

from keras_procrustes.checks import MAX_COUNT
from keras_procrustes.checks import is_count
from keras_procrustes.checks import is_finite_number
from keras_procrustes.checks import is_int
from keras_procrustes.data.datasets import DATASET_NAMES
from keras_procrustes.data.splits import ARRAYS
from keras_procrustes.ops.polar import ENGINES as PROJECTION_ENGINES
from keras_procrustes.training.errors import EnvironmentOptionError  # noqa: F401
from keras_procrustes.training.errors import FlagError  # noqa: F401
from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.errors import address_problem  # noqa: F401
from keras_procrustes.training.job.rendezvous import INIT_TIMEOUT

EXISTING = ("resume", "new", "refuse")
MIXED_PRECISION = ("none", "float16", "bfloat16")
JIT_COMPILE = ("auto", "true", "false")
RECIPES = ("2020", "2018")
MIN_IMAGE_SIZE = 8

# Options that define a run: a resumed run must have the same ones.
RUN_DEFINING = (
    "model", "dataset", "max_train_examples", "max_test_examples", "image_size",
    "channels", "epochs", "batch_size", "lr", "momentum", "weight_decay", "recipe",
    "projection_probability", "projection_engine", "seed", "mixed_precision", "remat",
    "cpu_replicas",
)


def option(default, help="", **flag):
    """A config field with its command-line help.

    Args:
        default: the one default of the option.
        help: the flag's help text.
        **flag: more for the flag: `flag` (its spelling when not
            `--name`, e.g. `"--no-backup"`), `group` (a heading),
            `metavar`, `nargs`, `cli=False` (no flag).

    Returns:
        A `dataclasses.field`.
    """
    return dataclasses.field(default=default, metadata={"help": help, **flag})


def _number(value, low, high=float("inf"), high_open=False):
    if not is_finite_number(value):
        return False
    return low <= value and (value < high if high_open else value <= high)


def _optional_count(value):
    return value is None or is_count(value)


_COUNT = f"must be an int from 1 to {MAX_COUNT}"

CHECKS = {
    "epochs": (is_count, _COUNT),
    "batch_size": (is_count, f"{_COUNT} (examples per replica)"),
    "lr": (lambda v: _number(v, 0) and v > 0, "must be a finite positive number"),
    "momentum": (lambda v: _number(v, 0, 1, high_open=True), "must be in [0, 1)"),
    "weight_decay": (lambda v: _number(v, 0), "must be a finite number >= 0"),
    "projection_probability": (lambda v: _number(v, 0, 1), "must be in [0, 1]"),
    "seed": (lambda v: is_int(v) and 0 <= v < 2**31, "must be an int in [0, 2**31)"),
    "max_train_examples": (_optional_count, _COUNT),
    "max_test_examples": (_optional_count, _COUNT),
    "image_size": (
        lambda v: v is None or (is_int(v) and MIN_IMAGE_SIZE <= v <= 1024),
        f"must be an int from {MIN_IMAGE_SIZE} to 1024",
    ),
    "channels": (lambda v: v in (None, 1, 3), "must be 1 or 3"),
    "cpu_replicas": (lambda v: is_int(v) and 0 <= v <= 64, "must be an int from 0 to 64"),
    "init_timeout": (is_count, f"{_COUNT} (seconds)"),
    "grad_norm_every": (lambda v: is_int(v) and (v == 0 or is_count(v)),
                        f"must be an int from 0 (never) to {MAX_COUNT}"),
    "grad_norm_examples": (is_count, _COUNT),
    "verbose": (lambda v: v in (0, 1, 2), "must be 0, 1 or 2"),
    "dataset": (lambda v: v in DATASET_NAMES, f"must be one of {', '.join(DATASET_NAMES)}"),
    "existing": (lambda v: v in EXISTING, f"must be one of {', '.join(EXISTING)}"),
    "mixed_precision": (lambda v: v in MIXED_PRECISION, f"must be one of {MIXED_PRECISION}"),
    "jit_compile": (lambda v: str(v).lower() in JIT_COMPILE, "must be auto, true or false"),
    "recipe": (lambda v: v in RECIPES, f"must be one of {', '.join(RECIPES)}"),
    "projection_engine": (lambda v: v in PROJECTION_ENGINES,
                          f"must be one of {', '.join(PROJECTION_ENGINES)}"),
}


def check_fields(config):
    """Checks the fields of `config` that `CHECKS` has a rule for.

    Args:
        config: a `TrainingConfig` or `SearchConfig`.

    Raises:
        OptionError: naming the first bad option.
    """
    for name, (is_valid, requirement) in CHECKS.items():
        if not hasattr(config, name):
            continue
        value = getattr(config, name)
        if name == "dataset" and value == ARRAYS:
            continue
        if not is_valid(value):
            raise OptionError(name, value, requirement)


@dataclasses.dataclass
class DataOptions:
    """The options of a run's data, devices, seed and verbosity (`fit` and `search`).

    Attributes:
        dataset: `"cifar10"`, `"cifar100"` or `"fashion_mnist"`, or
            `"arrays"` for arrays given to `fit`.
        data_dir: a folder or archive with a local copy of the data.
        download: allow tensorflow-datasets to download.
        max_train_examples: use only the first this many training examples.
        max_test_examples: likewise for the test split.
        image_size: pad or resize images to this square size.
        channels: `3` turns grey images into RGB.
        cpu_replicas: train on this many logical CPU devices (per process).
        seed: weights, data order, augmentation and projection draws.
        verbose: 0, 1 (progress bar) or 2 (a line per epoch).
    """

    dataset: str = option("cifar10", ", ".join(DATASET_NAMES[:-1]) + f" or {DATASET_NAMES[-1]}")
    data_dir: str = option(None, "folder or archive with a local copy")
    download: bool = option(True, "never download with tfds", flag="--no-download")
    max_train_examples: int = option(None, "for short runs")
    max_test_examples: int = option(None, "for short runs")
    image_size: int = option(None, "pad/resize, e.g. 32")
    channels: int = option(None, "3 turns grey images into RGB")
    cpu_replicas: int = option(
        0, "train on N logical CPU devices, to try multi-replica training without GPUs: "
        "MirroredStrategy on TensorFlow; DataParallel on JAX (the train command only, with "
        "--projection-engine newton_schulz); refused on torch (one device)")
    seed: int = option(0)
    verbose: int = option(1, "0, 1 (progress bar) or 2 (a line per epoch)")

    def data_options(self):
        """The `data.load_splits` options, as a dict."""
        return {name: getattr(self, name) for name in (
            "data_dir", "download", "image_size", "channels", "max_train_examples",
            "max_test_examples")}


_JOB = ("several processes (JAX: keras.distribution over jax.distributed; every option "
        "defaults to its KERAS_DISTRIBUTION_* environment variable)")


@dataclasses.dataclass
class TrainingConfig(DataOptions):
    """Every option of a training run; defaults are the paper's recipe.

    The paper's recipe (Zaeemzadeh, Rahnavard & Shah, TPAMI 2020,
    arXiv:1805.07477, after He et al. 2016): SGD with momentum 0.9, lr 0.1
    divided by 10 at 50% and 75% of the epochs, batch 128, weight decay
    1e-4, projection probability 0.5.

    Attributes:
        model: a `models.get` name (e.g. `"procresnet166"`,
            `"resnet164_baseline"`).
        epochs: epochs in the run; the lr schedule scales to it.
        batch_size: examples per replica and step.
        lr: learning rate for one replica (scaled by the replica count).
        momentum: SGD momentum.
        weight_decay: the paper's L2 coefficient.
        recipe: `"2020"`, the TPAMI 2020 form's SGD with momentum, or
            `"2018"`, the 2018 form's (the authors' Torch code): Nesterov
            momentum. Both decay every parameter, batch norm and classifier
            included, and share the step schedule.
        projection_probability: chance of projecting at a step.
        projection_engine: `"svd"` or `"newton_schulz"` (`polar.ENGINES`).
        log_dir: the run's folder; default `runs/MODEL-DATASET`.
        existing: what to do when `log_dir` holds a run: `"resume"` an
            unfinished one (a finished one is refused), start a `"new"`
            numbered run beside it, or `"refuse"`.
        grad_norm_every: log the per-block gradient norm ratios every this
            many epochs (0: never), on a probe batch of the test split.
        grad_norm_examples: the probe batch's size.
        mixed_precision: `"none"`, `"float16"` or `"bfloat16"`.
        jit_compile: `"auto"`, `"true"` or `"false"`.
        remat: recompute residual blocks in the backward pass.
        backup: back up every epoch, so a killed run resumes.
        coordinator: `"HOST:PORT"` of process 0, to train as one of
            `num_processes` processes (JAX, `keras.distribution`); default
            `$KERAS_DISTRIBUTION_JOB_ADDRESSES`.
        num_processes: processes in the job; default
            `$KERAS_DISTRIBUTION_NUM_PROCESSES`.
        process_id: this process's index, 0 to `num_processes - 1`; default
            `$KERAS_DISTRIBUTION_PROCESS_ID`. Only process 0 reads and writes
            the run folder.
        init_timeout: seconds each process of a job waits for the others
            to start; then every process ends with one line naming what is
            wrong (a missing process, a duplicate id, a busy port).

    The data options are those of `DataOptions`.
    """

    model: str = option(
        "procresnet166", "a preset (procresnet166, resnet164_baseline, procresnet58, "
        "resnet56_baseline, ...: models.list_models()), or any depth with its block type "
        "(procresnet13_bottleneck, resnet38_basic_baseline)")
    epochs: int = option(300, "the lr schedule scales to it")
    batch_size: int = option(128, "per replica")
    lr: float = option(0.1, "for one replica")
    momentum: float = option(0.9)
    weight_decay: float = option(1e-4, "L2 coefficient")
    recipe: str = option("2020", "2020 (SGD with momentum) or 2018 (Nesterov momentum, the "
                         "2018 form's Torch code); both decay every parameter")
    projection_probability: float = option(0.5)
    projection_engine: str = option("svd", " or ".join(PROJECTION_ENGINES))
    log_dir: str = option(None, "the run's folder; default runs/MODEL-DATASET")
    existing: str = option(
        "resume", "when --log-dir holds a run: resume (an unfinished one; default), new "
        "(a numbered run beside it: LOG_DIR-2, ...) or refuse")
    grad_norm_every: int = option(
        0, "log the per-block gradient norm ratios to TensorBoard every N epochs")
    grad_norm_examples: int = option(32, "probe batch (test split)")
    mixed_precision: str = option("none", "none, float16 or bfloat16")
    jit_compile: str = option("auto", "auto, true or false")
    remat: bool = option(False, "recompute residual blocks in the backward pass (less memory)")
    backup: bool = option(True, "no per-epoch backup (no resume)", flag="--no-backup")
    coordinator: str = option(None, "HOST:PORT of process 0 "
                              "(KERAS_DISTRIBUTION_JOB_ADDRESSES)", group=_JOB)
    num_processes: int = option(None, "processes in the job "
                                "(KERAS_DISTRIBUTION_NUM_PROCESSES)", group=_JOB)
    process_id: int = option(None, "this process, 0 to N-1; 0 writes the run folder "
                             "(KERAS_DISTRIBUTION_PROCESS_ID)", group=_JOB)
    init_timeout: int = option(INIT_TIMEOUT, "seconds each process waits for the others to start; "
                               "then every one ends naming what is missing", group=_JOB)

    def check(self):
        """Checks every option, then what they ask of this backend and job.

        Raises:
            OptionError: naming the first bad option (an
                `EnvironmentOptionError` for a bad environment variable).
        """
        import keras

        from keras_procrustes.training.job import cluster

        check_fields(self)
        cluster.check_job(self, keras.backend.backend())
        self._check_model()

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
                f"{', '.join(models.list_models())} (see the models page of the docs)"
            ) from None

    def run_options(self):
        """The options that define the run, as a plain dict.

        The model is recorded under its canonical name (`procresnet166` for
        `resnet164`), so a run resumes whatever the name it was given.

        Returns:
            A dict of the `RUN_DEFINING` options.
        """
        options = {name: getattr(self, name) for name in RUN_DEFINING}
        if isinstance(self.model, str):
            from keras_procrustes import models

            options["model"] = models.canonical_name(self.model)
        return options

    def cluster(self):
        """`(coordinator, num_processes, process_id)`, or `None` (`cluster.cluster_of`)."""
        from keras_procrustes.training.job import cluster

        return cluster.cluster_of(self)

    @property
    def jit(self):
        """`jit_compile` as `model.compile` takes it."""
        return {"auto": "auto", "true": True, "false": False}[str(self.jit_compile).lower()]
