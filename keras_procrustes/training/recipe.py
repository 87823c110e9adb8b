"""The paper's optimisation recipe (Zaeemzadeh et al., TPAMI 2020, after He et al. 2016): SGD, schedule, compile."""

import math

import keras


def lr_schedule(lr, epochs, steps_per_epoch):
    """The paper's step schedule, scaled to `epochs`: /10 at 50% and 75%.

    Step `k` (counted from 0, as the optimizer counts) trains at `lr / 10`
    once `k` is at least half the run's steps and at `lr / 100` once it is
    at least three quarters, as He et al. divide at 32k and 48k of 64k
    iterations: over 4 epochs, epochs 1-2 at `lr`, 3 at `lr / 10`, 4 at
    `lr / 100`.

    Args:
        lr: the initial learning rate.
        epochs: epochs in the run.
        steps_per_epoch: optimizer steps per epoch.

    Returns:
        A `keras.optimizers.schedules.PiecewiseConstantDecay`.
    """
    total = epochs * steps_per_epoch
    # PiecewiseConstantDecay keeps values[i] while step <= boundaries[i].
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries=[math.ceil(total / 2) - 1, math.ceil(3 * total / 4) - 1],
        values=[lr, lr / 10, lr / 100],
    )


def paper_sgd(learning_rate, momentum=0.9, weight_decay=1e-4, nesterov=False):
    """SGD with momentum and the paper's L2 weight decay on every parameter.

    Keras decays weights decoupled from the momentum; the paper's L2 term
    passes through it, which in steady state amounts to a decoupled decay of
    `weight_decay / (1 - momentum)`. Every trainable variable is decayed,
    batch norm and the classifier included, as in both forms' code.

    Args:
        learning_rate: a float or a schedule.
        momentum: in [0, 1).
        weight_decay: the L2 coefficient (0 for none).
        nesterov: Nesterov momentum (the 2018 form's recipe).

    Returns:
        A `keras.optimizers.SGD`.
    """
    return keras.optimizers.SGD(
        learning_rate,
        momentum=momentum,
        nesterov=nesterov,
        weight_decay=weight_decay / (1 - momentum) or None,
    )


def compile_classifier(model, optimizer, jit_compile="auto"):
    """Compiles for sparse labels, accuracy weighted by sample weights.

    Accuracy is a weighted metric so that evaluation batches padded with
    weight-0 examples (several replicas) count only the real ones. The
    optimizer's and the accuracy's variables are made here (the metric is
    given as an object: a name is resolved in the first step), not in the
    first step: without a distribution strategy Keras defers them to it, and
    TensorFlow then traces the train step twice (a `tf.function` that makes
    variables is traced again), which on a CPU takes as long as a short
    run's training.

    Args:
        model: a `keras.Model` ending in a softmax.
        optimizer: a Keras optimizer.
        jit_compile: `"auto"`, `True` or `False`.
    """
    model.compile(
        optimizer,
        "sparse_categorical_crossentropy",
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    if not model.optimizer.built:  # an optimizer given built keeps its variables
        model.optimizer.build(model.trainable_variables)
