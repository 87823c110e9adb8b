"""Devices and strategies: the only device code, TensorFlow, JAX and torch.

TensorFlow: `tf.distribute.MirroredStrategy` over every visible GPU, or over
`cpu_replicas` logical CPU devices. JAX: `keras.distribution.DataParallel`
over every device, or over `cpu_replicas` CPU devices; with a cluster, over
every device of every process (`keras.distribution.initialize`, which starts
`jax.distributed`; on CPUs the processes talk through jax's gloo collectives).
tf.distribute's `MultiWorkerMirroredStrategy` is not used: it is broken with
Keras 3 (keras-team/keras issue 20585). torch: one device, the one Keras
picks (the first GPU, else the CPU); Keras' torch backend has no data
parallelism in `fit`, so `cpu_replicas` and clusters are refused there.
"""

import contextlib
import dataclasses

import keras

from keras_procrustes.optional import require
from keras_procrustes.training.errors import OptionError

SVD_HANG = "jaxlib's batched CPU SVD hangs with several JAX CPU devices in one process"


@dataclasses.dataclass
class Devices:
    """The replicas a run trains on.

    Attributes:
        strategy: the `tf.distribute.Strategy` to build the model under
            (TensorFlow), or `None` (JAX).
        replicas: the number of replicas, over all processes.
        processes: the processes of the job.
        process_id: this process's index; process 0 reads and writes the
            run folder.
    """

    strategy: object
    replicas: int
    processes: int = 1
    process_id: int = 0

    @property
    def is_chief(self):
        """Whether this process reads and writes the run's files."""
        return self.process_id == 0

    @property
    def local_replicas(self):
        """The replicas of this process."""
        return self.replicas // self.processes

    def scope(self):
        """`strategy.scope()`, or a no-op context on JAX."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def configure(cpu_replicas=0, cluster=None, init_timeout=None):
    """The replicas for this machine's devices, or for a job of processes.

    Call it before anything runs on the backend: logical CPU devices can
    only be made, and `jax.distributed` only started, before the runtime
    starts.

    Args:
        cpu_replicas: split the CPU into this many devices and train on them
            (to try multi-replica training without GPUs); 0 for the default
            (every GPU, else one CPU).
        cluster: `(coordinator, num_processes, process_id)` to join a job of
            several processes (JAX only; `TrainingConfig.cluster()`), or
            `None`.
        init_timeout: seconds each process of a job waits for the others
            (`rendezvous.meet`), then every process ends naming what is
            wrong; `None` for `TrainingConfig`'s default.

    Returns:
        A `Devices`.

    Raises:
        ValueError: for a cluster off JAX, `cpu_replicas` on torch, or
            devices asked for after the backend started.
        OptionError: for a job whose processes don't all start, or that
            can't start (`rendezvous.meet`).
    """
    if keras.backend.backend() == "jax":
        return _configure_jax(cpu_replicas, cluster, init_timeout)
    if cluster is not None:
        raise ValueError(f"cluster={cluster}: several processes need the JAX backend, "
                         f"not {keras.backend.backend()}")
    if keras.backend.backend() == "tensorflow":
        return _configure_tensorflow(cpu_replicas)
    if cpu_replicas:
        raise ValueError(
            f"cpu_replicas={cpu_replicas}: several replicas need the TensorFlow or "
            f"JAX backend, not {keras.backend.backend()}"
        )
    return Devices(None, 1)


def _configure_jax(cpu_replicas, cluster, init_timeout):
    jax = require("jax", "jax")
    if cpu_replicas:
        try:
            jax.config.update("jax_num_cpu_devices", cpu_replicas)
        except RuntimeError as error:
            raise ValueError(
                f"cpu_replicas={cpu_replicas}: JAX has already started ({error})"
            ) from None
    if cluster is not None and not jax.distributed.is_initialized():
        _join_job(jax, *cluster, init_timeout)
    devices = jax.devices("cpu") if cpu_replicas else jax.devices()
    if len(devices) > 1:
        # Every process feeds its own shard of each global batch (the
        # pipelines shard), so Keras must not shard the datasets again.
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False))
    return Devices(None, len(devices), jax.process_count(), jax.process_index())


def _join_job(jax, coordinator, num_processes, process_id, init_timeout):
    """Starts `jax.distributed` once every process is there (`rendezvous.meet`).

    As `keras.distribution.initialize` does, with a bounded wait; Keras'
    agreement on a random seed is not needed, since the run seeds every
    process the same (`build.prepare_model`).
    """
    from keras_procrustes.training.job import rendezvous

    if init_timeout is None:
        init_timeout = rendezvous.INIT_TIMEOUT
    coordinator = coordinator.split(",")[0]  # Keras' job addresses: process 0's first
    rendezvous.meet(coordinator, num_processes, process_id, init_timeout)
    try:
        jax.distributed.initialize(coordinator, num_processes, process_id,
                                   initialization_timeout=max(1, int(init_timeout)))
    except Exception as error:  # jaxlib's JaxRuntimeError has no stable import path
        if process_id == 0 and "bind" in str(error).lower():
            raise OptionError("coordinator", coordinator, (
                f"port {coordinator.rpartition(':')[2]} was taken on this host as the job "
                "started; pick a free port for every process of the job")) from None
        raise


def several_cpu_devices_per_process():
    """Whether this JAX process drives more than one CPU device.

    jaxlib 0.10's batched CPU SVD then hangs: each device's program waits in
    it for threads of the shared intra-op pool that the other devices'
    programs hold (gdb: `ParallelBatchMap` under `lapack_sgesdd_ffi`).

    Returns:
        A bool (`False` off JAX).
    """
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu" and jax.local_device_count() > 1


def svd_hang(cpu_replicas=None):
    """Why the SVD projection engine would hang in this process, or `None`.

    It hangs when one JAX process drives several CPU devices (see
    `several_cpu_devices_per_process`).

    Args:
        cpu_replicas: the CPU devices a run asks for, before `configure`
            makes them (looking at the devices would start the backend too
            early); `None` to look at the devices this process has.

    Returns:
        `SVD_HANG` or `None`.
    """
    if keras.backend.backend() != "jax":
        return None
    several = several_cpu_devices_per_process() if cpu_replicas is None else cpu_replicas > 1
    return SVD_HANG if several else None


def check_svd_engine(engine, cpu_replicas=None):
    """Refuses the SVD projection engine where it would hang (`svd_hang`).

    Args:
        engine: the `projection_engine` option.
        cpu_replicas: as in `svd_hang`.

    Raises:
        OptionError: naming `projection_engine`, when `engine` is `"svd"`
            and it would hang.
    """
    why = svd_hang(cpu_replicas) if engine == "svd" else None
    if why:
        devices = f" (--cpu-replicas {cpu_replicas})" if cpu_replicas else ""
        raise OptionError("projection_engine", engine,
                          f"{why}{devices}; pass --projection-engine newton_schulz")


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


def device_note():
    """A note when devices go unused (torch with several GPUs), else None.

    Returns:
        A string or `None`.
    """
    if keras.backend.backend() != "torch":
        return None
    import torch

    count = torch.cuda.device_count()
    if count < 2:
        return None
    return (f"{count} GPUs are visible but Keras' torch backend trains on one "
            f"(cuda:{torch.cuda.current_device()}); for several, use "
            "KERAS_BACKEND=tensorflow or jax")


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
