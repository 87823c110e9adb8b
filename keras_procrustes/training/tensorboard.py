"""Deprecated path of `keras_procrustes.training.callbacks.run_tensorboard`; it goes in 0.6.0."""

from keras_procrustes.training.moved import moved_names

_NEW = "keras_procrustes.training.callbacks.run_tensorboard"
__getattr__ = moved_names(__name__, {name: _NEW for name in (
    "RunTensorBoard", "write_model_graph")})
