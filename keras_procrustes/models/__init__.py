"""Model builders, keras.applications-style, and a registry of presets.

The modules: `procrustes_resnet` (the graph), `arguments` (its argument
checks), `resnet` (the family of depths), `presets` (the table), `names`
(the name grammar and the renamed names), `registry` (`get`,
`list_models`), `weights`, `features`, `convert`.

Example:
>>> from keras_procrustes import models
>>> model = models.resnet164()                    # ProcrustesResNet-166
>>> baseline = models.resnet164(procrustes=False) # He et al.'s ResNet-164
>>> same = models.get("procresnet166")            # = models.resnet164()
>>> models.list_models("*164*")
['resnet164_baseline']
"""

from keras_procrustes.models.convert import convert_weights
from keras_procrustes.models.features import pyramid_outputs
from keras_procrustes.models.names import ModelNameWarning
from keras_procrustes.models.names import UnknownModelName
from keras_procrustes.models.presets import PRESETS
from keras_procrustes.models.presets import markdown_table
from keras_procrustes.models.procrustes_resnet_2018 import ProcrustesResNet2018
from keras_procrustes.models.procrustes_resnet_2018 import procresnet_2018
from keras_procrustes.models.registry import canonical_name
from keras_procrustes.models.registry import get
from keras_procrustes.models.registry import get_builder
from keras_procrustes.models.registry import list_models
from keras_procrustes.models.procrustes_resnet import SCAN_MIN_BLOCKS
from keras_procrustes.models.procrustes_resnet import ProcrustesResNet
from keras_procrustes.models.resnet import blocks_per_stage
from keras_procrustes.models.resnet import resnet
from keras_procrustes.models.resnet import resnet20
from keras_procrustes.models.resnet import resnet32
from keras_procrustes.models.resnet import resnet44
from keras_procrustes.models.resnet import resnet56
from keras_procrustes.models.resnet import resnet110
from keras_procrustes.models.resnet import resnet164
from keras_procrustes.models.resnet import resnet272
from keras_procrustes.models.resnet import resnet632
from keras_procrustes.models.resnet import resnet1001

__all__ = [
    "PRESETS",
    "ModelNameWarning",
    "ProcrustesResNet",
    "ProcrustesResNet2018",
    "SCAN_MIN_BLOCKS",
    "UnknownModelName",
    "blocks_per_stage",
    "canonical_name",
    "convert_weights",
    "get",
    "get_builder",
    "list_models",
    "markdown_table",
    "procresnet_2018",
    "pyramid_outputs",
    "resnet",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "resnet164",
    "resnet272",
    "resnet632",
    "resnet1001",
]
