"""Measures norm preservation in Keras' ResNet50V2 and draws the docs' figure.

    python recipes/measure_resnet50v2.py [--size 64] [--batch 16] \\
        [--out docs/figures/resnet50v2_norm_preservation.png]

ResNet50V2 (`keras.applications`, random weights, not built with this
package) on one batch of Gaussian images with random labels: the gradient
norm ratio of each of its 16 residual blocks, the signal-propagation
statistics of each block's output, and the operator norm of its strided and
shortcut convolutions. Prints every figure and writes a three-panel PNG.
"""

import argparse

import keras
import numpy as np

from keras_procrustes import diagnostics


def measure(size, batch, seed=0):
    """Ratios, signal statistics and operator norms of a fresh ResNet50V2."""
    keras.utils.set_random_seed(seed)
    model = keras.applications.ResNet50V2(
        weights=None, input_shape=(size, size, 3), classes=10)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, size, size, 3)).astype("float32")
    y = rng.integers(0, 10, batch)
    ratios = diagnostics.gradient_norm_ratios(model, x, y)
    signal = diagnostics.signal_propagation(model, x)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
             and (layer.strides != (1, 1) or layer.name.endswith("_0_conv"))]
    norms = {layer.name: diagnostics.operator_norm(layer) for layer in convs}
    return ratios, signal, norms


def draw(ratios, signal, norms, path):
    """The three panels, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, 3, figsize=(14, 3.6), dpi=90)
    blocks = range(1, len(ratios) + 1)
    axes[0].semilogy(blocks, list(ratios.values()), marker="o")
    axes[0].axhline(1.0, color="grey", linewidth=0.8)
    axes[0].set(title="gradient norm ratio per block", xlabel="block",
                ylabel="||dL/dx_in|| / ||dL/dx_out||")
    axes[1].semilogy(blocks, [s.variance for s in signal.values()], marker="o",
                     label="average channel variance")
    axes[1].semilogy(blocks, [s.mean_squared for s in signal.values()], marker="s",
                     label="average squared channel mean")
    axes[1].set(title="signal propagation (block outputs)", xlabel="block")
    axes[1].legend(fontsize=8)
    axes[2].barh(list(norms), list(norms.values()))
    axes[2].set(title="operator norm (strides, zero padding)", xlabel="largest singular value")
    axes[2].tick_params(axis="y", labelsize=7)
    figure.suptitle("keras.applications.ResNet50V2, random weights, one batch")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--out", default="docs/figures/resnet50v2_norm_preservation.png")
    args = parser.parse_args()
    ratios, signal, norms = measure(args.size, args.batch)
    print(f"backend {keras.backend.backend()}; input {args.size}x{args.size}, batch {args.batch}")
    print("block, ratio, mean_squared, variance")
    for name, ratio in ratios.items():
        print(f"{name}, {ratio:.3f}, {signal[name].mean_squared:.4f}, {signal[name].variance:.4f}")
    print("layer, operator norm")
    for name, norm in norms.items():
        print(f"{name}, {norm:.3f}")
    draw(ratios, signal, norms, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
