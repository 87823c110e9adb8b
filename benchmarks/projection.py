"""What the projection costs, against the authors' algorithm and a step.

    python benchmarks/projection.py [--repeats 5] [--batch-size 128]
    KERAS_BACKEND=jax python benchmarks/projection.py

Prints, as medians of `--repeats` timed runs after a warm-up, all in one
process so that ratios compare like with like:

1. Projecting the stem (3x3, 3->64 at 32x32) and both transitions (1x1,
   64->128 and 128->256) of ProcrustesResNet-166 with our engines, and with a
   faithful reimplementation of the authors' algorithm (every one of the
   n*n frequencies, real 2c form, K^T K, 10 coupled Newton-Schulz
   iterations for (K^T K)^(-1/2), their FFT sizes 32/16/8), each compiled
   the same way (tf.function or jax.jit).
2. A training step of ResNet-164, ProcrustesResNet-166 (projection probability
   0.5, as trained) and ProcrustesResNet-166 projecting at every step, at the same
   batch; the projection's share of a step; and the step-time ratio.
"""

import argparse

import keras
import numpy as np
from keras import ops

from common import time_steps
from keras_procrustes import models
from keras_procrustes.ops import projection

# (kernel shape, our FFT size = the layer's input size, the authors' FFT size)
LAYERS = {
    "stem": ((3, 3, 3, 64), (32, 32), (32, 32)),
    "transition1": ((1, 1, 64, 128), (32, 32), (16, 16)),
    "transition2": ((1, 1, 128, 256), (16, 16), (8, 8)),
}


def compiled(fn):
    """`fn` compiled by the backend (tf.function / jax.jit)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    return tf.function(fn)


def median_seconds(fn, repeats, warmup=2):
    """Median wall time of `fn()` (results fetched to the host)."""
    return time_steps(lambda: keras.tree.map_structure(ops.convert_to_numpy, fn()),
                      repeats, warmup)["median_s"]


def authors_projection(kernel, fft_shape, target):
    """The authors' algorithm, rewritten in keras.ops (sign error kept).

    All n1*n2 frequencies; per frequency the real form
    K = [[R, I], [-I, R]] (2c_in x 2c_out); (K^T K)^(-1/2) by 10 coupled
    Newton-Schulz iterations (Y <- Y T, Z <- T Z, T = (3I - Z Y) / 2) after
    scaling by the Frobenius norm; K (K^T K)^(-1/2) * target; the complex
    matrix rebuilt as K11 - i K12; inverse FFT; real part; crop.
    """
    kh, kw, c_in, c_out = kernel.shape
    n1, n2 = fft_shape
    taps = ops.transpose(kernel, (2, 3, 0, 1))
    taps = ops.pad(taps, [[0, 0], [0, 0], [0, n1 - kh], [0, n2 - kw]])
    real, imag = ops.fft2((taps, ops.zeros_like(taps)))
    real = ops.reshape(ops.transpose(real, (2, 3, 0, 1)), (n1 * n2, c_in, c_out))
    imag = ops.reshape(ops.transpose(imag, (2, 3, 0, 1)), (n1 * n2, c_in, c_out))
    k = ops.concatenate(
        [ops.concatenate([real, imag], axis=2), ops.concatenate([-imag, real], axis=2)], axis=1
    )
    gram = ops.matmul(ops.transpose(k, (0, 2, 1)), k)
    norm = ops.sqrt(ops.sum(ops.square(gram), axis=(1, 2), keepdims=True))
    scale = ops.where(norm > 1.0, norm, ops.ones_like(norm))
    y = gram / scale
    eye = ops.broadcast_to(ops.eye(2 * c_out), y.shape)
    z = eye
    for _ in range(10):
        t = 0.5 * (3.0 * eye - ops.matmul(z, y))
        y = ops.matmul(y, t)
        z = ops.matmul(t, z)
    inverse_root = z / ops.sqrt(scale)
    projected = ops.matmul(k, inverse_root) * target
    new_real = projected[:, :c_in, :c_out]
    new_imag = -projected[:, :c_in, c_out:]
    new_real = ops.transpose(ops.reshape(new_real, (n1, n2, c_in, c_out)), (2, 3, 0, 1))
    new_imag = ops.transpose(ops.reshape(new_imag, (n1, n2, c_in, c_out)), (2, 3, 0, 1))
    back, _ = ops.ifft2((new_real, new_imag))
    return ops.transpose(back[:, :, :kh, :kw], (2, 3, 0, 1))


def projection_benchmark(repeats):
    """Times of the three projections per engine; returns ours (seconds)."""
    rng = np.random.default_rng(0)
    kernels = {name: ops.convert_to_tensor(rng.normal(size=shape).astype("float32"))
               for name, (shape, _, _) in LAYERS.items()}
    targets = {name: float(np.sqrt(shape[3] / shape[2])) for name, (shape, _, _) in LAYERS.items()}
    engines = {
        "ours, svd": lambda: [projection.project_kernel(kernels[n], LAYERS[n][1], targets[n])
                              for n in LAYERS],
        "ours, newton_schulz x10": lambda: [
            projection.project_kernel(kernels[n], LAYERS[n][1], targets[n],
                                      engine="newton_schulz", iterations=10) for n in LAYERS],
        "authors' algorithm": lambda: [authors_projection(kernels[n], LAYERS[n][2], targets[n])
                                       for n in LAYERS],
    }
    results = {}
    for name, fn in engines.items():
        seconds = median_seconds(compiled(fn), repeats if "authors" not in name else max(3, repeats // 2))
        results[name] = seconds
        print(f"  {name:28s} {seconds * 1e3:10.2f} ms", flush=True)
    authors = results["authors' algorithm"]
    for name in ("ours, svd", "ours, newton_schulz x10"):
        print(f"  speed-up of {name} over the authors' algorithm: {authors / results[name]:.0f}x")
    return results["ours, svd"]


def step_benchmark(batch_size, repeats, projection_seconds):
    """Median train-step times of the baseline and Procrustes nets."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, batch_size)
    configs = {
        "resnet164_baseline": dict(procrustes=False),
        "procresnet166 (p=0.5)": dict(projection_probability=0.5),
        "procresnet166 (p=1.0)": dict(projection_probability=1.0),
    }
    steps = {}
    for name, kwargs in configs.items():
        model = models.resnet164(**kwargs)
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
        steps[name] = lambda model=model: model.train_on_batch(x, y)
    # Interleaved, so drift hits every net alike.
    medians = {name: timing["median_s"]
               for name, timing in time_steps(steps, repeats, warmup=2).items()}
    for name, seconds in medians.items():
        print(f"  {name:24s} {seconds * 1e3:10.1f} ms/step")
    base = medians["resnet164_baseline"]
    print(f"  step ratio procresnet166 (p=0.5) / resnet164_baseline: "
          f"{medians['procresnet166 (p=0.5)'] / base:.3f}")
    print(f"  step ratio procresnet166 (p=1.0) / resnet164_baseline: "
          f"{medians['procresnet166 (p=1.0)'] / base:.3f}")
    print(f"  projection (svd, all three layers) / resnet164_baseline step: "
          f"{100 * projection_seconds / base:.2f}%")


def describe_devices():
    """The backend's devices, in words."""
    if keras.backend.backend() == "jax":
        import jax

        return ", ".join(str(d) for d in jax.devices())
    import tensorflow as tf

    return ", ".join(d.name for d in tf.config.list_logical_devices())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--skip-steps", action="store_true")
    args = parser.parse_args()
    print(f"backend {keras.backend.backend()}, devices: {describe_devices()}")
    print("Projection of ProcrustesResNet-166's stem and two transitions:")
    ours = projection_benchmark(args.repeats)
    if not args.skip_steps:
        print(f"Training step, batch {args.batch_size}, 32x32x3:")
        step_benchmark(args.batch_size, args.repeats, ours)


if __name__ == "__main__":
    main()
