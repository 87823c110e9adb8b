"""`ProcrustesResNetImageClassifier`: the keras-hub task with each form's own head."""

import keras

from keras_procrustes.hub import presets
from keras_procrustes.hub.backbone import ProcrustesResNetBackbone
from keras_procrustes.hub.preprocessing import ProcrustesResNetImageClassifierPreprocessor
from keras_procrustes.layers import GlobalL2Pooling2D
from keras_procrustes.layers import OrthonormalDense
from keras_procrustes.optional import require

_hub = require("keras_hub", "hub")


def _head(backbone, num_classes, activation, head_dtype):
    """The pooling and classifier layers, named as `models.get` names them.

    The 2020 form and the baseline pool by the average into a `Dense`; the
    2018 form pools by the L2 norm into an `OrthonormalDense`, projected
    with the backbone's projection options. The classifier computes in the
    policy's variable dtype, as the models' does.
    """
    policy = keras.dtype_policies.get(head_dtype)
    if not backbone.is_2018_form:
        return (keras.layers.GlobalAveragePooling2D(dtype=policy, name="avg_pool"),
                keras.layers.Dense(num_classes, activation=activation,
                                   dtype=policy.variable_dtype, name="predictions"))
    probability = backbone.projection_probability
    projection = {"engine": backbone.projection_engine,
                  "iterations": backbone.projection_iterations, "seed": backbone.seed,
                  "probability": 1.0 if probability is None else probability}
    return (GlobalL2Pooling2D(dtype=policy, name="l2_pool"),
            OrthonormalDense(num_classes, activation=activation,
                             dtype=policy.variable_dtype, name="predictions", **projection))


@keras.saving.register_keras_serializable(package="keras_procrustes")
class ProcrustesResNetImageClassifier(presets.CheckedFromPreset, _hub.models.ImageClassifier):
    """A Procrustes ResNet image classifier for KerasHub.

    The backbone's features, pooled and classified as the package's models
    do: average pooling and a `Dense` for the 2020 form and He et al.'s
    baseline, global L2 pooling and an `OrthonormalDense` for the 2018 form.
    Backbone and head hold exactly the parameters of
    `models.get(architecture, classes=num_classes)`, under the same layer
    names. With a preprocessor it takes raw pixels in [0, 255].

    Args:
        backbone: a `ProcrustesResNetBackbone`.
        num_classes: the number of classes.
        preprocessor: a `ProcrustesResNetImageClassifierPreprocessor`, or
            `None` for standardised inputs.
        activation: the classifier's activation; `None` for logits (as
            keras-hub's classifiers default), `"softmax"` as the package's
            models.
        class_names: optional names of the classes, in label order.
        head_dtype: the head's dtype policy; `None`: the backbone's.
        **kwargs: `keras_hub.models.Task` arguments (`name`, ...).

    Raises:
        ValueError: for `class_names` whose count is not `num_classes`.

    Example:
    >>> backbone = ProcrustesResNetBackbone("procresnet13_bottleneck")
    >>> classifier = ProcrustesResNetImageClassifier(backbone, num_classes=10)
    """

    backbone_cls = ProcrustesResNetBackbone
    preprocessor_cls = ProcrustesResNetImageClassifierPreprocessor

    def __init__(self, backbone, num_classes, preprocessor=None, activation=None,
                 class_names=None, head_dtype=None, **kwargs):
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(
                f"`class_names` names {len(class_names)} classes, num_classes="
                f"{num_classes}. Received class_names={class_names!r}")
        head_dtype = head_dtype or backbone.dtype_policy
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.pooler, self.output_dense = _head(backbone, num_classes, activation, head_dtype)
        inputs = backbone.input
        outputs = self.output_dense(self.pooler(backbone(inputs)))
        _hub.models.Task.__init__(self, inputs=inputs, outputs=outputs, **kwargs)
        self.num_classes = num_classes
        self.activation = activation
        self.class_names = None if class_names is None else list(class_names)

    def get_config(self):
        config = _hub.models.Task.get_config(self)
        config.update({"num_classes": self.num_classes, "activation": self.activation,
                       "class_names": self.class_names})
        return config
