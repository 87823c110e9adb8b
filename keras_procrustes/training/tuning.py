"""Deprecated path of `keras_procrustes.training.search.hypermodel`; it goes in 0.6.0."""

from keras_procrustes.training.moved import moved_names

_NEW = "keras_procrustes.training.search.hypermodel"
__getattr__ = moved_names(__name__, {name: _NEW for name in (
    "ProcrustesResNetHyperModel", "ProcResNetHyperModel", "TUNERS", "OBJECTIVES",
    "make_tuner", "check_project_name")})
