"""Data: CIFAR-10/100 and Fashion-MNIST as tf.data pipelines, offline first.

`datasets` names the data sets; `sources.load_arrays` searches the formats
(`cifar`, `idx`, `keras_cache`, `tfds_source`); `arrays` checks a user's
arrays; `splits` cuts and describes a run's data; `pipeline` makes the
tf.data streams.
"""

from keras_procrustes.data.datasets import DATASETS
from keras_procrustes.data.datasets import DataSourceError
from keras_procrustes.data.datasets import get_spec
from keras_procrustes.data.pipeline import eval_dataset
from keras_procrustes.data.pipeline import prepare_images
from keras_procrustes.data.pipeline import steps_per_epoch
from keras_procrustes.data.pipeline import train_dataset
from keras_procrustes.data.sources import load_arrays
from keras_procrustes.data.splits import DataInfo
from keras_procrustes.data.splits import channel_stats
from keras_procrustes.data.splits import load
from keras_procrustes.data.splits import load_splits

__all__ = [
    "DATASETS",
    "DataInfo",
    "DataSourceError",
    "channel_stats",
    "eval_dataset",
    "get_spec",
    "load",
    "load_arrays",
    "load_splits",
    "prepare_images",
    "steps_per_epoch",
    "train_dataset",
]
