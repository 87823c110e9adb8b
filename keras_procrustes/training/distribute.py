"""Devices and strategies: the only device code, TensorFlow and JAX.

TensorFlow: `tf.distribute.MirroredStrategy` over every visible GPU, or over
`cpu_replicas` logical CPU devices. JAX: `keras.distribution.DataParallel`
over every device, or over `cpu_replicas` CPU devices.
"""

import contextlib
import dataclasses

import keras

from keras_procrustes.optional import require


@dataclasses.dataclass
class Devices:
    """The replicas a run trains on.

    Attributes:
        strategy: the `tf.distribute.Strategy` to build the model under
            (TensorFlow), or `None` (JAX).
        replicas: the number of replicas.
    """

    strategy: object
    replicas: int

    def scope(self):
        """`strategy.scope()`, or a no-op context on JAX."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def configure(cpu_replicas=0):
    """The replicas for this machine's devices.

    Call it before anything runs on the backend: logical CPU devices can
    only be made before the runtime starts.

    Args:
        cpu_replicas: split the CPU into this many devices and train on them
            (to try multi-replica training without GPUs); 0 for the default
            (every GPU, else one CPU).

    Returns:
        A `Devices`.
    """
    if keras.backend.backend() == "jax":
        return _configure_jax(cpu_replicas)
    if keras.backend.backend() == "tensorflow":
        return _configure_tensorflow(cpu_replicas)
    if cpu_replicas:
        raise ValueError(
            f"cpu_replicas={cpu_replicas}: several replicas need the TensorFlow or "
            f"JAX backend, not {keras.backend.backend()}"
        )
    return Devices(None, 1)


def _configure_jax(cpu_replicas):
    jax = require("jax", "jax")
    if cpu_replicas:
        try:
            jax.config.update("jax_num_cpu_devices", cpu_replicas)
        except RuntimeError as error:
            raise ValueError(
                f"cpu_replicas={cpu_replicas}: JAX has already started ({error})"
            ) from None
        devices = jax.devices("cpu")
    else:
        devices = jax.devices()
    if len(devices) > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return Devices(None, len(devices))


def _configure_tensorflow(cpu_replicas):
    tf = require("tensorflow", "train")
    if cpu_replicas:
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas
            )
        except RuntimeError as error:
            raise ValueError(
                f"cpu_replicas={cpu_replicas}: TensorFlow has already started ({error})"
            ) from None
        names = [device.name for device in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(names)
    elif tf.config.list_physical_devices("GPU"):
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    return Devices(strategy, strategy.num_replicas_in_sync)


def remat_note(remat):
    """A note when `remat` saves no memory (JAX compiling for a CPU), else None.

    XLA's CPU compiler removes the optimisation barriers that keep the
    recomputed forward pass apart and merges it back (benchmarks/memory.py:
    the compiled plan is unchanged).

    Args:
        remat: whether rematerialisation was asked for.

    Returns:
        A string or `None`.
    """
    if not remat or keras.backend.backend() != "jax":
        return None
    jax = require("jax", "jax")
    if jax.default_backend() != "cpu":
        return None
    return (
        "remat saves no memory on JAX with a CPU (XLA's CPU compiler merges "
        "the recomputation back); it does on TensorFlow"
    )
