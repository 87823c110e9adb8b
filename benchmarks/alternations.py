"""How close `alternations` rounds of project-then-crop bring the stem, and at what cost.

    python benchmarks/alternations.py [--repeats 5] [--seed 0]
    KERAS_BACKEND=jax python benchmarks/alternations.py

For the stem of ProcrustesResNet (3x3, 3->64 at 32x32, target sqrt(64/3)), from a
He-normal kernel, prints for 1, 2, 4 and 8 alternations: the smallest and
largest singular value of the projected kernel's operator (stride 1,
circular padding) over the target, by numpy's FFT and SVD (independent of
the package), and the median time of one projection (eager, after a
warm-up) as a ratio to one alternation, all in one process.
"""

import argparse

import keras
import numpy as np

from common import time_steps
from keras_procrustes.constraints import ProcrustesProjection

KERNEL_SHAPE = (3, 3, 3, 64)
SPATIAL_SHAPE = (32, 32)
ALTERNATIONS = (1, 2, 4, 8)


def numpy_singular_values(kernel, spatial_shape):
    """Every singular value of the stride-1 circular convolution, by numpy."""
    spectrum = np.fft.fft2(np.asarray(kernel, "float64"), s=spatial_shape, axes=(0, 1))
    return np.linalg.svd(spectrum, compute_uv=False).ravel()


def measure(repeats, seed):
    """Rows `(alternations, min / target, max / target, seconds)`."""
    kernel = keras.initializers.HeNormal(seed=seed)(KERNEL_SHAPE)
    target = np.sqrt(KERNEL_SHAPE[3] / KERNEL_SHAPE[2])
    rows = []
    for count in ALTERNATIONS:
        constraint = ProcrustesProjection(SPATIAL_SHAPE, alternations=count)
        projected = keras.ops.convert_to_numpy(constraint.project(kernel))
        values = numpy_singular_values(projected, SPATIAL_SHAPE) / target
        seconds = time_steps(lambda: keras.ops.convert_to_numpy(
            constraint.project(kernel)), repeats)["median_s"]
        rows.append((count, values.min(), values.max(), seconds))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = measure(args.repeats, args.seed)
    base = rows[0][3]
    print(f"backend {keras.backend.backend()}; stem 3x3, 3->64 at 32x32, "
          f"He-normal seed {args.seed}; singular values over the target")
    print("| alternations | min / target | max / target | cost vs 1 |")
    print("|---:|---:|---:|---:|")
    for count, low, high, seconds in rows:
        print(f"| {count} | {low:.4f} | {high:.4f} | {seconds / base:.2f}x |")


if __name__ == "__main__":
    main()
