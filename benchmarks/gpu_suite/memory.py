"""Peak accelerator memory of this process, by the backend's own counter."""

import resource


def reset_peak(backend):
    """Starts a new peak where the backend allows it (torch; JAX cannot)."""
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()


def peak_gib(backend):
    """The peak memory so far and what counted it.

    JAX: the device's `memory_stats()["peak_bytes_in_use"]` (its allocator's
    peak over the process, so measure small batches first). PyTorch:
    `torch.cuda.max_memory_allocated()` since `reset_peak`. With no GPU,
    the process's peak resident host memory.

    Args:
        backend: `"jax"` or `"torch"`.

    Returns:
        `(GiB, source)`.
    """
    if backend == "jax":
        import jax

        stats = jax.local_devices()[0].memory_stats() or {}
        if stats.get("peak_bytes_in_use"):
            return stats["peak_bytes_in_use"] / 2.0**30, "jax peak_bytes_in_use"
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2.0**30, "torch max_memory_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2.0**20
    return rss, "host peak RSS (no GPU)"


def device_name(backend):
    """The accelerator the steps run on, in words."""
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"{device.platform}: {device.device_kind}"
    import torch

    if torch.cuda.is_available():
        return "cuda: " + torch.cuda.get_device_name(0)
    return "cpu"
