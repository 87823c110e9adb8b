"""A hyperparameter search with keras-tuner (the `[tune]` extra).

- `config`: `SearchConfig`, every option of a search and of the `tune`
  command, checked.
- `driver`: `search`, the search itself, its project folder and lock.
- `hypermodel`: the hypermodel of Procrustes ResNets and the tuners.
- `trial_logs`: each trial's TensorBoard logs and hyperparameters.
- `worker`: a worker of a distributed search and its watch on the chief.

Nothing is imported here, so `config` loads without keras-tuner.
"""

from keras_procrustes.training.moved import moved_names

__getattr__ = moved_names(__name__, {"search": "keras_procrustes.training.search.driver"})
