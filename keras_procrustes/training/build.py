"""A run's model: built by name with its data's normalisation inside, seeded, compiled with the paper's recipe."""

import keras

from keras_procrustes import models
from keras_procrustes.models import names
from keras_procrustes.models.procrustes_resnet_2018 import Float16Error
from keras_procrustes.training import recipe
from keras_procrustes.training.errors import OptionError


def build_model(model_or_name, config, info):
    """The model: built by name with the data's normalisation inside, or as given.

    Args:
        model_or_name: a `models.get` name or a `keras.Model`.
        config: the `TrainingConfig`.
        info: the `DataInfo`.

    `projection_probability` is the 2020 recipe's (the stem and transitions);
    the 2018 form keeps its classifier's own default, a projection at every
    step, as the authors' code did.

    Returns:
        A `keras.Model` that takes raw pixel values.

    Raises:
        OptionError: naming `mixed_precision` for float16 with the 2018
            form (which refuses a float16 policy), or `model` when the
            builder refuses the data's input shape (e.g. a 2018 form on an
            image size its L2 pooling windows do not cover).
    """
    if not isinstance(model_or_name, str):
        return model_or_name
    projection = {"projection_engine": config.projection_engine, "seed": config.seed}
    if names.parse(model_or_name).form != "2018":
        projection["projection_probability"] = config.projection_probability
    try:
        return models.get(
            model_or_name, input_shape=tuple(info.input_shape), classes=info.classes,
            include_preprocessing=True, preprocessing_mean=info.mean,
            preprocessing_std=info.std, remat=config.remat, **projection)
    except Float16Error:
        if config.mixed_precision != "float16":
            raise  # a float16 policy set outside the run
        raise OptionError("mixed_precision", "float16",
                          f"can't train {model_or_name}: the 2018 form's activations "
                          "pass float16's range (use bfloat16)") from None
    except ValueError as error:
        raise OptionError("model", model_or_name,
                          f"can't be built for input shape {tuple(info.input_shape)}: {error}"
                          ) from error


def prepare_model(model_or_name, config, info, devices, steps):
    """The seeded model, built and compiled under the devices' scope.

    A model given already compiled keeps its optimizer; a named one gets
    the paper's SGD (`config.recipe`'s momentum), its learning rate scaled
    by the replica count.

    Args:
        model_or_name: a `models.get` name or a `keras.Model`.
        config: the `TrainingConfig`.
        info: the `DataInfo`.
        devices: the `Devices`.
        steps: optimizer steps per epoch.

    Returns:
        A compiled `keras.Model`.
    """
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(f"mixed_{config.mixed_precision}")
    with devices.scope():
        model = build_model(model_or_name, config, info)
        if getattr(model, "optimizer", None) is None or isinstance(model_or_name, str):
            optimizer = recipe.paper_sgd(
                recipe.lr_schedule(config.lr * devices.replicas, config.epochs, steps),
                momentum=config.momentum,
                weight_decay=config.weight_decay,
                nesterov=config.recipe == "2018",
            )
            recipe.compile_classifier(model, optimizer, config.jit)
    return model
