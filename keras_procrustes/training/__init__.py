"""The training side: the paper's recipe, `fit`, `search`, and their rooms.

It uses tf.data, TensorBoard and keras-tuner (the core does not). Here:
`fit` (one run), `config` (`TrainingConfig`, every option of a run),
`recipe` (the paper's optimizer and schedule), `build` (the model of a
run), `run_callbacks` (a run's callbacks in their order), `report` (what a
run prints), `stops` (how a stopped run says so), `errors` (every error of
the training side). Sub-packages, each with its map: `run` (the run folder
on disk), `job` (processes and devices), `search` (keras-tuner),
`callbacks` (one Keras callback a module).

Example:
>>> from keras_procrustes.training import fit
>>> metrics = fit("procresnet58", "fashion_mnist", epochs=3, log_dir="runs/p58")
"""

from keras_procrustes.training.callbacks.ctrl_c_between_batches import CtrlCBetweenBatches
from keras_procrustes.training.config import TrainingConfig
from keras_procrustes.training.errors import OptionError
from keras_procrustes.training.errors import RunStateError
from keras_procrustes.training.fit import fit
from keras_procrustes.training.recipe import lr_schedule
from keras_procrustes.training.recipe import paper_sgd
from keras_procrustes.training.search.config import SearchConfig

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
