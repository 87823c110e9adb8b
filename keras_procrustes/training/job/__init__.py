"""A job: the processes and devices a run trains on.

- `cluster`: the job asked for (options, `KERAS_DISTRIBUTION_*`,
  `TF_CONFIG`), checked before anything starts.
- `distribute`: the devices and strategy of each backend (the only device
  code).
- `rendezvous`: the processes of a JAX job meet before `jax.distributed`
  starts, within a bound.
- `across_processes`: what the processes share (process 0's values and files).
- `launch`: a run's start, agreed by every process: its folder's plan, its
  devices, the backup it resumes from.
"""
