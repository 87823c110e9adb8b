"""The training side: the paper's recipe, devices, callbacks, `fit`, `search`.

It uses tf.data, TensorBoard and keras-tuner (the core does not).

Example:
>>> from keras_procrustes.training import fit
>>> metrics = fit("procresnet58", "fashion_mnist", epochs=3, log_dir="runs/p58")
"""

from keras_procrustes.training.checkpoints import RunStateError
from keras_procrustes.training.config import TrainingConfig
from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.fit import fit
from keras_procrustes.training.recipe import lr_schedule
from keras_procrustes.training.recipe import paper_sgd
from keras_procrustes.training.search_config import SearchConfig
from keras_procrustes.training.stops import CtrlCBetweenBatches

__all__ = [
    "CtrlCBetweenBatches",
    "OptionError",
    "RunStateError",
    "SearchConfig",
    "TrainingConfig",
    "fit",
    "lr_schedule",
    "paper_sgd",
]
