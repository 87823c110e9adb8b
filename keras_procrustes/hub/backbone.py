"""`ProcrustesResNetBackbone`: a registry architecture as a keras-hub backbone.

The backbone is the graph `models.get(architecture, include_top=False,
include_preprocessing=False)` builds: the same layers, with the same names
and weights, up to the final BN-ReLU (as keras-hub's pre-activation
`ResNetBackbone` ends). The per-channel standardisation of the raw pixels
is the image converter's (`ProcrustesResNetImageConverter`), as in
keras-hub's vision models; the pooling and the classifier are the task's
(`ProcrustesResNetImageClassifier`).
"""

import keras

from keras_procrustes.hub import presets
from keras_procrustes.hub.presets import FORMAT_VERSION
from keras_procrustes.models import names
from keras_procrustes.models import registry
from keras_procrustes.optional import require

FeaturePyramidBackbone = require(
    "keras_hub.src.models.feature_pyramid_backbone", "hub").FeaturePyramidBackbone

def is_2018_form(architecture):
    """Whether `architecture` names the paper's 2018 form (`procresnet164_2018`)."""
    return names.parse(architecture).form == "2018"


@keras.saving.register_keras_serializable(package="keras_procrustes")
class ProcrustesResNetBackbone(presets.CheckedFromPreset, FeaturePyramidBackbone):
    """A Procrustes ResNet (or He et al.'s baseline) as a keras-hub backbone.

    Any name `keras_procrustes.models.get` builds: the 2020 form
    (`procresnet166`), the 2018 form (`procresnet164_2018`), He et al.'s
    baseline (`resnet164_baseline`), any depth with its block type
    (`procresnet13_bottleneck`). Its layers, their names and weights are
    those of `models.get(architecture)` up to the final BN-ReLU, so weights
    move between the two by layer name. The input is the standardised
    image (`ProcrustesResNetImageConverter` makes it from raw pixels); the
    output is the last feature map, and `pyramid_outputs` holds each
    stage's (`P0`, `P1`, `P2`: strides 1, 2, 4). The Procrustes projections
    are the layers' weight constraints: they keep projecting under `fit`.

    Reference: Zaeemzadeh, Rahnavard & Shah, "Norm-Preservation: Why
    Residual Networks Can Become Extremely Deep?", TPAMI 2020
    (arXiv:1805.07477).

    Args:
        architecture: a `models.get` name.
        image_shape: `(height, width, channels)` of the images.
        scan: run each stage as one scan (`models.ProcrustesResNet`);
            `None` scans the deep stages.
        remat: recompute each residual block in the backward pass.
        projection_probability: the chance of projecting at an optimizer
            step; `None` for the form's default (0.5 for the 2020 form's stem
            and transitions, 1 for the 2018 form's classifier).
        projection_engine: `"svd"` or `"newton_schulz"`.
        projection_iterations: Newton-Schulz iterations.
        seed: shifts the sequence of projected steps.
        format_version: the preset format of the config (see
            `presets.FORMAT_VERSION`); set when a preset is loaded.
        dtype: the layers' dtype policy; `None` for the global one.
        **kwargs: `keras_hub.models.Backbone` arguments (`name`, ...).

    Raises:
        ValueError: for an unknown architecture or a bad builder argument;
            a `PresetError` (a ValueError) for a newer format version.

    Example:
    >>> backbone = ProcrustesResNetBackbone("procresnet13_bottleneck")
    >>> features = keras.Model(backbone.inputs, backbone.pyramid_outputs)
    """

    def __init__(
        self,
        architecture,
        image_shape=(32, 32, 3),
        scan=None,
        remat=False,
        projection_probability=None,
        projection_engine="svd",
        projection_iterations=10,
        seed=0,
        format_version=FORMAT_VERSION,
        dtype=None,
        **kwargs,
    ):
        presets.check_format_version(format_version)
        options = {} if projection_probability is None else {
            "projection_probability": projection_probability}
        model = registry.get(
            architecture, include_top=False, include_preprocessing=False,
            input_shape=tuple(image_shape), scan=scan, remat=remat,
            projection_engine=projection_engine,
            projection_iterations=projection_iterations, seed=seed, dtype=dtype,
            **options,
        )
        super().__init__(inputs=model.input, outputs=model.output, dtype=dtype, **kwargs)
        self.pyramid_outputs = dict(model.pyramid_outputs)
        self.architecture = architecture
        self.image_shape = tuple(image_shape)
        self.scan = scan
        self.remat = remat
        self.projection_probability = projection_probability
        self.projection_engine = projection_engine
        self.projection_iterations = projection_iterations
        self.seed = seed
        self.format_version = format_version

    @property
    def is_2018_form(self):
        """Whether the architecture is the 2018 form (L2 pooling head)."""
        return is_2018_form(self.architecture)

    def get_config(self):
        config = super().get_config()
        config.update({
            "architecture": self.architecture,
            "image_shape": self.image_shape,
            "scan": self.scan,
            "remat": self.remat,
            "projection_probability": self.projection_probability,
            "projection_engine": self.projection_engine,
            "projection_iterations": self.projection_iterations,
            "seed": self.seed,
            "format_version": self.format_version,
        })
        return config
