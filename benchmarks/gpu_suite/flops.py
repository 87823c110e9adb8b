"""FLOPs per image of a training step, counted; the GPU's name and peaks.

Keras models: the multiply-adds of every convolution and matrix product in
the jaxpr of one image's forward pass (scan bodies counted once per
iteration), times 2 FLOPs each, times 3 for the training step (the backward
pass computes two products per forward product: the gradient of the input
and of the kernel). The projection (an optimizer-side SVD on half the steps)
and elementwise work are not counted: these are model FLOPs, as in the
"model FLOPs utilisation" of Chowdhery et al. 2022 (PaLM), Appendix B.
The plain-PyTorch ResNet-164 is counted by `torch.utils.flop_counter` over
a forward and backward pass, a cross-check of the same architecture.
"""

import math
import time

from gpu_suite import keras_step
from gpu_suite import peaks
from gpu_suite import torch_reference


def _sub_jaxprs(eqn):
    found = []
    for value in eqn.params.values():
        for item in value if isinstance(value, (tuple, list)) else (value,):
            inner = getattr(item, "jaxpr", item)  # a ClosedJaxpr holds a Jaxpr
            if hasattr(inner, "eqns"):
                found.append(inner)
    return found


def _eqn_macs(eqn):
    name = eqn.primitive.name
    if name == "conv_general_dilated":
        out, kernel = eqn.outvars[0].aval, eqn.invars[1].aval
        out_features = kernel.shape[eqn.params["dimension_numbers"].rhs_spec[0]]
        return math.prod(out.shape) * math.prod(kernel.shape) // out_features
    if name == "dot_general":
        (contracting, _), _ = eqn.params["dimension_numbers"]
        lhs = eqn.invars[0].aval
        return math.prod(eqn.outvars[0].aval.shape) * math.prod(
            lhs.shape[axis] for axis in contracting)
    return 0


def count_macs(jaxpr):
    """Multiply-adds of the convolutions and matrix products of a jaxpr.

    Args:
        jaxpr: a `Jaxpr` (or `ClosedJaxpr`).

    Returns:
        An int; a `scan` body counts `length` times, a `cond` its costliest
        branch.
    """
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0
    for eqn in jaxpr.eqns:
        total += _eqn_macs(eqn)
        inner = [count_macs(sub) for sub in _sub_jaxprs(eqn)]
        if eqn.primitive.name == "cond":
            total += max(inner, default=0)
        else:
            total += eqn.params.get("length", 1) * sum(inner)
    return total


def keras_train_flops_per_image(name, sizes):
    """3 x 2 x the forward multiply-adds of one image (see the module doc)."""
    import jax
    import numpy as np

    model = keras_step.build(name, sizes)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    size = sizes["image_size"]
    image = np.zeros((1, size, size, 3), "float32")

    def forward(x):
        return model.stateless_call(trainable, non_trainable, x, training=True)[0]

    return 3 * 2 * count_macs(jax.make_jaxpr(forward)(image))


def measured_matmul_tflops(sizes):
    """A large bf16 matrix product's TFLOP/s on this GPU (torch), for scale."""
    import torch

    if not torch.cuda.is_available():
        n, device = 256, "cpu"
    else:
        n, device = 8192, "cuda"
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    repeats = 10
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / repeats
    return 2 * n**3 / seconds / 1e12, f"{n}x{n}x{n} bf16 torch.matmul on {device}"


def measure(measurement, sizes):
    """FLOPs per image of each model's step, the GPU, its datasheet peaks.

    Returns:
        A dict: `train_flops_per_image` by model (and `torch_reference`),
        `gpu`, `peak_tflops` (or None), `matmul_tflops`.
    """
    import torch

    counts = {name: keras_train_flops_per_image(name, sizes)
              for name in measurement["models"]}
    counts["torch_reference"] = torch_reference.train_flops_per_image(sizes)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    matmul, matmul_method = measured_matmul_tflops(sizes)
    return {
        "train_flops_per_image": counts,
        "flops_method": "keras: 3 x 2 x forward multiply-adds of convolutions "
                        "and matrix products (jaxpr); torch_reference: "
                        "torch.utils.flop_counter, forward and backward",
        "gpu": gpu,
        "peak_tflops": peaks.peak_for(gpu),
        "matmul_tflops": matmul,
        "matmul_method": matmul_method,
    }
