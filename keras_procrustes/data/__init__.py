"""Data: CIFAR-10/100 and Fashion-MNIST as tf.data pipelines, offline first."""

from keras_procrustes.data.pipeline import DataInfo
from keras_procrustes.data.pipeline import channel_stats
from keras_procrustes.data.pipeline import eval_dataset
from keras_procrustes.data.pipeline import load
from keras_procrustes.data.pipeline import load_splits
from keras_procrustes.data.pipeline import prepare_images
from keras_procrustes.data.pipeline import steps_per_epoch
from keras_procrustes.data.pipeline import train_dataset
from keras_procrustes.data.sources import DATASETS
from keras_procrustes.data.sources import DataSourceError
from keras_procrustes.data.sources import get_spec
from keras_procrustes.data.sources import load_arrays

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
