"""keras-tuner's side of a search: the hypermodel of Procrustes ResNets and the tuners (with `trial_logs`)."""

import re
import warnings

from keras_procrustes import data
from keras_procrustes import models
from keras_procrustes.optional import require
from keras_procrustes.training import recipe
from keras_procrustes.training.search import trial_logs

keras_tuner = require("keras_tuner", "tune")


TUNERS = {
    "random": trial_logs.with_trial_logs(keras_tuner.RandomSearch),
    "hyperband": trial_logs.with_trial_logs(keras_tuner.Hyperband),
    "bayesian": trial_logs.with_trial_logs(keras_tuner.BayesianOptimization),
}


class ProcrustesResNetHyperModel(keras_tuner.HyperModel):
    """A `keras_tuner.HyperModel` of Procrustes ResNets.

    The search space: `lr` (log, 0.01-0.3), `weight_decay` (log, 1e-5-1e-3,
    the L2 coefficient), `projection_probability` (0.1-1), `projection_target_scale`
    (0.8-1.25, times `sqrt(c_out / c_in)`), `project_stem` and
    `project_transitions` (booleans), `depth` (one of `depths`), and in `fit`,
    `batch_size` (one of `batch_sizes`, per replica). `build(hp)` returns a
    model compiled with SGD (momentum 0.9, lr scaled by the replica count)
    and accuracy.

    Args:
        input_shape: `(height, width, channels)` of the data.
        classes: number of classes.
        block_type: the family, `"bottleneck"` or `"basic"`.
        depths: depths to choose from, in He et al.'s count (e.g. 164, 272
            for bottleneck; 56, 110 for basic).
        batch_sizes: batch sizes per replica to choose from.
        replicas: replicas each trial trains on; the global batch and the
            learning rate scale with it, as in `fit`.
        preprocessing: `(mean, std)` per channel of raw pixels, to build
            the models with `include_preprocessing=True`; `None` for inputs
            that are already normalised.
        augment: flip, pad and crop training images given as arrays.
        seed: order and augmentation seed of arrays' pipelines.
        image_size: pad or resize images given as arrays to this square
            size (as `input_shape` says), or `None` to keep theirs.
        channels: `3` turns grey images given as arrays into RGB.
        **kwargs: `keras_tuner.HyperModel` arguments (`name`, `tunable`).

    Raises:
        ValueError: for a depth that is not one of He et al.'s for
            `block_type`, or batch sizes that are not positive.

    Example:
    >>> hypermodel = ProcrustesResNetHyperModel((32, 32, 3), 10, depths=(164, 272))
    >>> tuner = keras_tuner.RandomSearch(hypermodel, "val_accuracy", max_trials=8)
    """

    def __init__(
        self,
        input_shape,
        classes,
        block_type="bottleneck",
        depths=(164, 272),
        batch_sizes=(64, 128, 256),
        replicas=1,
        preprocessing=None,
        augment=True,
        seed=0,
        image_size=None,
        channels=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for depth in depths:
            models.blocks_per_stage(depth, block_type)  # refuses a bad depth
        if not batch_sizes or any(b < 1 for b in batch_sizes):
            raise ValueError(
                f"`batch_sizes` must be positive ints. Received batch_sizes={batch_sizes}"
            )
        self.input_shape = tuple(input_shape)
        self.classes = classes
        self.block_type = block_type
        self.depths = tuple(depths)
        self.batch_sizes = tuple(batch_sizes)
        self.replicas = replicas
        self.preprocessing = preprocessing
        self.augment = augment
        self.seed = seed
        self.image_size = image_size
        self.channels = channels

    def build(self, hp):
        """Builds and compiles the model `hp` chooses.

        Args:
            hp: `keras_tuner.HyperParameters`.

        Returns:
            A compiled `keras.Model`.
        """
        lr = hp.Float("lr", 0.01, 0.3, sampling="log")
        weight_decay = hp.Float("weight_decay", 1e-5, 1e-3, sampling="log")
        mean, std = self.preprocessing or (None, None)
        model = models.resnet(
            hp.Choice("depth", list(self.depths)),
            block_type=self.block_type,
            input_shape=self.input_shape,
            classes=self.classes,
            projection_probability=hp.Float("projection_probability", 0.1, 1.0),
            projection_target_scale=hp.Float("projection_target_scale", 0.8, 1.25),
            project_stem=hp.Boolean("project_stem", default=True),
            project_transitions=hp.Boolean("project_transitions", default=True),
            include_preprocessing=self.preprocessing is not None,
            preprocessing_mean=mean,
            preprocessing_std=std,
        )
        optimizer = recipe.paper_sgd(lr * self.replicas, momentum=0.9, weight_decay=weight_decay)
        recipe.compile_classifier(model, optimizer)
        return model

    def fit(self, hp, model, x=None, y=None, validation_data=None, **kwargs):
        """Fits with the batch size `hp` chooses, times the replica count.

        Arrays (`x`, `y`, and `validation_data` as `(x, y)`) go through the
        training pipelines (stateless shuffle and augmentation per epoch,
        the last short batch dropped on several replicas, validation padded
        with weight-0 examples). A batched `tf.data.Dataset` is re-batched.

        Args:
            hp: `keras_tuner.HyperParameters`.
            model: the built model.
            x: training images (array) or a `tf.data.Dataset`.
            y: training labels for arrays.
            validation_data: `(images, labels)` or a `tf.data.Dataset`.
            **kwargs: more `model.fit` arguments (`epochs`, `callbacks`...).

        Returns:
            The `History`.
        """
        global_batch = hp.Choice("batch_size", list(self.batch_sizes)) * self.replicas
        drop = self.replicas > 1
        if _is_dataset(x):
            x = x.rebatch(global_batch, drop_remainder=drop)
            if _is_dataset(validation_data):
                validation_data = validation_data.rebatch(global_batch)
            return model.fit(x, validation_data=validation_data, **kwargs)
        epochs, first = kwargs.pop("epochs", 1), kwargs.get("initial_epoch", 0)
        kwargs["steps_per_epoch"] = data.steps_per_epoch(len(x), global_batch, drop)
        shape = dict(image_size=self.image_size, channels=self.channels)
        train = data.train_dataset(x, y, global_batch, epochs, first_epoch=first,
                                   seed=self.seed, augment=self.augment, drop_remainder=drop,
                                   **shape)
        if validation_data is not None and not _is_dataset(validation_data):
            validation_data = data.eval_dataset(*validation_data[:2], global_batch,
                                                pad_to_multiple=self.replicas, **shape)
        kwargs["shuffle"] = False
        return model.fit(train, validation_data=validation_data, epochs=epochs, **kwargs)


def _is_dataset(value):
    tf = require("tensorflow", "train")
    return isinstance(value, tf.data.Dataset)


def check_project_name(project_name):
    """Raises a ValueError unless `project_name` is a plain folder name.

    keras-tuner deletes `directory/project_name` on `overwrite=True`: `"."`
    or `"../x"` would delete the directory itself or a folder beside it.

    Args:
        project_name: the name to check.

    Raises:
        ValueError: naming the value received.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(project_name)) or ".." in project_name:
        raise ValueError(
            "`project_name` must be a plain folder name (letters, digits, '.', '_', '-'). "
            f"Received project_name={project_name!r}"
        )


#: The metrics a search can optimise (`recipe.compile_classifier`'s).
OBJECTIVES = ("val_accuracy", "val_loss", "accuracy", "loss")


def make_tuner(
    hypermodel,
    kind="random",
    max_trials=10,
    objective="val_accuracy",
    directory="tuning",
    project_name="procresnet",
    max_epochs=30,
    seed=0,
    distribution_strategy=None,
    overwrite=False,
):
    """A keras-tuner tuner over `hypermodel`.

    With `overwrite=False` (default) an existing `directory/project_name`
    is reloaded, so an interrupted search resumes without redoing finished
    trials.

    Args:
        hypermodel: a `ProcrustesResNetHyperModel`.
        kind: `"random"`, `"hyperband"` or `"bayesian"`.
        max_trials: trials for random and Bayesian search.
        objective: the metric to maximise (names ending in `loss` or `error`
            are minimised).
        directory: where trials are saved.
        project_name: a sub-folder of `directory`.
        max_epochs: Hyperband's largest budget.
        seed: the tuner's seed, an int >= 0 (its oracle is given `seed + 1`:
            keras-tuner takes a seed of 0 as none and draws one at random).
        distribution_strategy: e.g. `tf.distribute.MirroredStrategy()`.
        overwrite: start over instead of resuming.

    Returns:
        A `keras_tuner.Tuner` that writes each trial's TensorBoard logs to a
        folder of its own (named by trial id) on every backend.
   
    Raises:
        ValueError: for a bad `project_name` or an unknown `kind`.
        MissingExtraError: for Bayesian search without scikit-learn.
    """
    check_project_name(project_name)
    if kind not in TUNERS:
        raise ValueError(f"`kind` must be one of {sorted(TUNERS)}. Received kind={kind!r}")
    if kind == "bayesian":
        require("sklearn", "tune")  # keras-tuner's Gaussian process
    direction = "min" if objective.endswith(("loss", "error")) else "max"
    common = dict(
        objective=keras_tuner.Objective(objective, direction),
        directory=directory,
        project_name=project_name,
        seed=seed + 1,
        distribution_strategy=distribution_strategy,
        overwrite=overwrite,
    )
    if kind == "hyperband":
        return TUNERS[kind](hypermodel, max_epochs=max_epochs, **common)
    return TUNERS[kind](hypermodel, max_trials=max_trials, **common)


#: Old names of this module's public things, and their names now.
RENAMED = {"ProcResNetHyperModel": "ProcrustesResNetHyperModel"}


def __getattr__(name):
    """An old name (`RENAMED`), with a `FutureWarning`; it goes in the next release."""
    if name in RENAMED:
        warnings.warn(f"{name} is deprecated, use {RENAMED[name]}", FutureWarning, stacklevel=2)
        return globals()[RENAMED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
