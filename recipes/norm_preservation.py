"""Reproduce the paper's norm-preservation evidence, on offline real data.

    python recipes/norm_preservation.py [--epochs 3] [--max-train-examples 5000]
    python recipes/norm_preservation.py --epochs 1 --max-train-examples 256 \
        --depth 56 --depths 56 --out /tmp/figures   # the smallest run, a check

Three forms side by side: He et al.'s pre-activation ResNet, the paper's
first form (arXiv:1805.07477 v1, 2018: L2-pooling and duplication
transitions, an orthonormal classifier; `procresnet{D}_2018`) and its
published form (TPAMI 2020: projected transitions; `procresnet{D+2}`).

Figure 1 (the paper's main figure): the gradient norm ratio
||dL/dx_in|| / ||dL/dx_out|| of every residual block and transition of
the three forms at depth --depth (164: ResNet-164, ProcrustesResNet-164 (2018),
ProcrustesResNet-166), at initialisation and after each epoch of a short training
on Fashion-MNIST (Debian's dataset-fashion-mnist) with one optimizer for all
three, on a log axis from 0.1 to 10. Figure 2: the spread of the identity
blocks' ratios, |ln ratio|, at initialisation, for --depths (56, 164 and
1001; the three forms), on a smaller probe batch (ResNet-1001's gradient
holds every activation).

Writes figure PNGs and ratios.json to --out (default docs/figures), and the
same figures, per-block scalars and histograms to TensorBoard under
runs/norm_preservation.
"""

import argparse
import json
import os

import numpy as np

from keras_procrustes.optional import require

matplotlib = require("matplotlib", "figures")
matplotlib.use("Agg")
plt = require("matplotlib.pyplot", "figures")

# The three forms, by their plot label and marker, in the order of the panels.
FORMS = (("He et al.'s ResNet", "o"), ("2018 form", "^"), ("2020 form", "s"))


def forms_at(depth):
    """The names of the three forms at He et al.'s depth `depth` (56, 164, ...)."""
    from keras_procrustes import models

    return (models.canonical_name(f"resnet{depth}_baseline"),
            models.canonical_name(f"procresnet{depth}_2018"),
            models.canonical_name(f"procresnet{depth + 2}"))


def train_and_measure(name, args, x_probe, y_probe, train_ds, info):
    """Trains `name` briefly, measuring the ratios at start and every epoch."""
    import keras

    from keras_procrustes import models
    from keras_procrustes.training import lr_schedule
    from keras_procrustes.training import paper_sgd
    from keras_procrustes.training.callbacks import norm_preservation_monitor

    keras.utils.set_random_seed(args.seed)
    model = models.get(name, input_shape=info.input_shape, classes=info.classes, seed=args.seed,
                       include_preprocessing=True, preprocessing_mean=info.mean,
                       preprocessing_std=info.std)
    steps = int(np.ceil(info.train_examples / args.batch_size))
    model.compile(
        paper_sgd(lr_schedule(args.lr, args.epochs, steps), momentum=0.9, weight_decay=1e-4),
        "sparse_categorical_crossentropy", metrics=["accuracy"],
    )
    log_dir = os.path.join(args.tensorboard_dir, name)
    monitor = norm_preservation_monitor.NormPreservationMonitor(x_probe, y_probe, log_dir=log_dir)
    model.fit(train_ds, epochs=args.epochs, steps_per_epoch=steps, verbose=2, shuffle=False,
              callbacks=[monitor, keras.callbacks.TensorBoard(log_dir)])
    return {str(epoch): ratios for epoch, ratios in monitor.history.items()}


def plot_per_block(results, path):
    """The paper's figure: ratio per block, one curve per epoch, per model."""
    fig, axes = plt.subplots(1, len(results), figsize=(7 * len(results), 4.5), sharey=True)
    for ax, (name, history) in zip(np.atleast_1d(axes), results.items()):
        colours = plt.cm.viridis(np.linspace(0, 0.9, len(history)))
        for colour, (epoch, ratios) in zip(colours, history.items()):
            ax.plot(range(1, len(ratios) + 1), list(ratios.values()), marker=".",
                    color=colour, label=f"epoch {epoch}")
        names = list(next(iter(history.values())))
        for index, block in enumerate(names, start=1):
            if "transition" in block or block == "stem_conv" or block.endswith("block1"):
                ax.axvline(index, color="grey", alpha=0.15)
        ax.set_yscale("log")
        ax.set_ylim(0.1, 10)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xlabel("block index (stem, blocks and transitions in order)")
        ax.set_title(name)
        ax.legend(fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("||dL/dx_in|| / ||dL/dx_out||")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def measure_depths(depths, x_probe, y_probe, info, seed):
    """Ratios at initialisation for every depth and form."""
    import keras

    from keras_procrustes import diagnostics
    from keras_procrustes import models

    spreads = {}
    for depth in depths:
        for name in forms_at(depth):
            keras.utils.set_random_seed(seed)
            model = models.get(name, input_shape=info.input_shape, classes=info.classes,
                               include_preprocessing=True, preprocessing_mean=info.mean,
                               preprocessing_std=info.std)
            ratios = diagnostics.gradient_norm_ratios(model, x_probe, y_probe)
            identity = [abs(float(np.log(ratios[name])))
                        for name in diagnostics.identity_block_names(model)]
            spreads[name] = {"median": float(np.median(identity)), "max": float(np.max(identity)),
                             "blocks": len(identity), "ratios": ratios}
            print(f"{name}: {len(identity)} identity blocks, median |ln r| "
                  f"{spreads[name]['median']:.4f}, max {spreads[name]['max']:.4f}", flush=True)
    return spreads


def plot_depths(depths, spreads, path):
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for index, (form, marker) in enumerate(FORMS):
        names = [forms_at(depth)[index] for depth in depths]
        for stat, style in (("median", "-"), ("max", "--")):
            ax.plot(depths, [spreads[n][stat] for n in names], style, marker=marker,
                    label=f"{form}, {stat} over identity blocks")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("He et al.'s depth D (the 2020 form has D + 2 layers)")
    ax.set_ylabel("|ln(||dL/dx_in|| / ||dL/dx_out||)|")
    ax.set_title("Identity blocks get closer to norm-preserving with depth\n(at initialisation)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_images_to_tensorboard(paths, log_dir):
    tf = require("tensorflow", "train")
    writer = tf.summary.create_file_writer(os.path.join(log_dir, "figures"))
    with writer.as_default(step=0):
        for path in paths:
            image = tf.image.decode_png(tf.io.read_file(path), channels=4)
            tf.summary.image(os.path.splitext(os.path.basename(path))[0], image[None])
    writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-train-examples", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--probe-batch", type=int, default=64)
    parser.add_argument("--depth-probe-batch", type=int, default=16,
                        help="smaller: ResNet-1001's eager gradient holds every activation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/figures")
    parser.add_argument("--tensorboard-dir", default="runs/norm_preservation")
    parser.add_argument("--skip-depths", action="store_true", help="only figure 1")
    parser.add_argument("--depth", type=int, default=164,
                        help="He et al.'s depth of figure 1's three models (56, 164, ...)")
    parser.add_argument("--depths", type=int, nargs="+", default=[56, 164, 1001],
                        help="He et al.'s depths of figure 2")
    args = parser.parse_args()

    from keras_procrustes import data

    os.makedirs(args.out, exist_ok=True)
    train_ds, test_ds, info = data.load("fashion_mnist", batch_size=args.batch_size,
                                        epochs=args.epochs, seed=args.seed,
                                        max_train_examples=args.max_train_examples)
    x_probe, y_probe = next(iter(test_ds.unbatch().batch(args.probe_batch)))
    x_probe, y_probe = np.asarray(x_probe), np.asarray(y_probe)
    results = {}
    for name in forms_at(args.depth):
        results[name] = train_and_measure(name, args, x_probe, y_probe, train_ds, info)
    figure1 = os.path.join(args.out, "gradient_norm_ratio_per_block.png")
    plot_per_block(results, figure1)
    figures = [figure1]
    record = {"per_block": results, "settings": vars(args)}
    ratios_path = os.path.join(args.out, "ratios.json")
    with open(ratios_path, "w") as handle:
        json.dump(record, handle, indent=1)
    if not args.skip_depths:
        depth_batch = args.depth_probe_batch
        spreads = measure_depths(args.depths, x_probe[:depth_batch], y_probe[:depth_batch],
                                 info, args.seed)
        figure2 = os.path.join(args.out, "ratio_spread_by_depth.png")
        plot_depths(args.depths, spreads, figure2)
        figures.append(figure2)
        record["depths"] = spreads
    with open(ratios_path, "w") as handle:
        json.dump(record, handle, indent=1)
    write_images_to_tensorboard(figures, args.tensorboard_dir)
    print("wrote", ", ".join(figures), flush=True)


if __name__ == "__main__":
    main()
