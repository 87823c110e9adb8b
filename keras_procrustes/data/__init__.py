"""Data: CIFAR-10/100 and Fashion-MNIST as tf.data pipelines, offline first."""

from keras_procrustes.data.pipeline import DataInfo
from keras_procrustes.data.pipeline import channel_stats
from keras_procrustes.data.pipeline import load
from keras_procrustes.data.pipeline import make_dataset
from keras_procrustes.data.sources import DATASETS
from keras_procrustes.data.sources import DataSourceError
from keras_procrustes.data.sources import load_arrays

__all__ = [
    "DATASETS",
    "DataInfo",
    "DataSourceError",
    "channel_stats",
    "load",
    "load_arrays",
    "make_dataset",
]
