"""He et al.'s ResNet, the 2018 form and the 2020 form, same budget, over seeds and depths.

    python recipes/compare_forms.py [--depths 20 56 110] [--seeds 0 1 2] [--epochs 4]

Trains the forms at each depth D of basic blocks (He et al.'s ResNet-D
`resnet{D}_baseline`, the 2018 form `procresnet{D}_2018` with the 2018
recipe, the 2020 form `procresnet{D+2}_basic` with the 2020 recipe) one
after the other on Fashion-MNIST (Debian's dataset-fashion-mnist, found
offline), each with the same images, epochs and seeds. It prints, per
depth, the mean +- standard deviation over the seeds of the best and last
test accuracy, the CPU time per run and the trained nets' norm
preservation (the largest and the median |ln ratio| of the blocks'
gradient norm ratios, `diagnostics.gradient_norm_ratios` on the first 256
test images, measured on each run's `best.keras`), then each form's
difference from He et al.'s net paired by seed. `--forms 2020_stem1` adds
an ablation: the 2020 form with its stem projected to singular value 1.

Runs go to `OUT/FORM/seedN/` at depth 20 and `OUT/FORM/depthD/seedN/` at
the others; every finished run is added to `OUT/results.json` at once, and a
rerun skips the runs it holds and resumes a killed one, so a stopped study
goes on where it stopped. `--figure PNG` draws the paired difference
against depth (matplotlib, the `[figures]` extra); `--table-of` joins
results files and trains nothing.
"""

import argparse
import json
import math
import os
import statistics
import time

# form: (label with {depth}, model name with {depth}, recipe, depth offset of
# the label and the name: the 2020 form adds a stem and two transitions).
FORMS = {
    "resnet": ("He et al. ResNet-{depth}", "resnet{depth}_baseline", "2020", 0),
    "2018": ("ProcrustesResNet-{depth}, 2018 form", "procresnet{depth}_2018", "2018", 0),
    "2020": ("ProcrustesResNet-{depth}, 2020 form", "procresnet{depth}_basic", "2020", 2),
    # The ablation: the 2020 form with its stem projected to singular value 1
    # instead of sqrt(c_out / c_in) (4 on grey images), which it holds with
    # no batch norm after it.
    "2020_stem1": ("ProcrustesResNet-{depth}, 2020 form, stem target 1",
                   "procresnet{depth}_basic", "2020", 2),
}
PROBE_EXAMPLES = 256


def form_label(form, depth):
    """The table's name of `form` at He et al.'s depth `depth`."""
    return FORMS[form][0].format(depth=depth + FORMS[form][3])


def model_name(form, depth):
    """The `models.get` name of `form` at He et al.'s depth `depth`."""
    return FORMS[form][1].format(depth=depth + FORMS[form][3])


def run_dir(out, form, depth, seed):
    """The run folder of one run (depth 20 keeps the folders of the first study)."""
    if depth == 20:
        return os.path.join(out, form, f"seed{seed}")
    return os.path.join(out, form, f"depth{depth}", f"seed{seed}")


def stem_target_one(name, seed, args):
    """The 2020 form whose stem's projection targets singular value 1.

    Built here, with the training split's statistics inside (as `fit`
    builds a named model), and given to `fit` as a model.
    """
    import keras

    from keras_procrustes import models
    from keras_procrustes.constraints import ProcrustesProjection
    from keras_procrustes.data import load_splits

    _, _, info = load_splits("fashion_mnist", max_train_examples=args.max_train_examples,
                             max_test_examples=1)
    keras.utils.set_random_seed(seed)
    model = models.get(name, input_shape=tuple(info.input_shape), classes=info.classes,
                       preprocessing_mean=info.mean, preprocessing_std=info.std, seed=seed)
    stem = model.get_layer("stem_conv")
    projection = ProcrustesProjection.from_config(
        {**stem.kernel.constraint.get_config(), "target": 1.0, "target_scale": 1.0})
    stem.kernel_constraint = stem.kernel.constraint = projection
    return model


def norm_preservation(log_dir):
    """The largest and the median |ln ratio| over the blocks of `log_dir/best.keras`.

    Args:
        log_dir: a finished run's folder.

    Returns:
        `{"max_log_deviation": ..., "median_log_deviation": ...}`, the
        gradient norm ratios measured on the first `PROBE_EXAMPLES` test
        images with the model in training mode (as the monitor does).
    """
    import keras

    import keras_procrustes  # noqa: F401  (registers the layers for loading)
    from keras_procrustes import diagnostics
    from keras_procrustes.data import load_splits

    _, (x_test, y_test), _ = load_splits("fashion_mnist", max_train_examples=1,
                                         max_test_examples=PROBE_EXAMPLES)
    model = keras.models.load_model(os.path.join(log_dir, "best.keras"))
    ratios = diagnostics.gradient_norm_ratios(model, x_test.astype("float32"), y_test)
    deviations = [abs(math.log(ratio)) for ratio in ratios.values()]
    return {"max_log_deviation": max(deviations),
            "median_log_deviation": statistics.median(deviations)}


def train_one(form, depth, seed, args):
    """One run of `form` at `depth` with `seed`: its metrics, CPU time and norm preservation."""
    from keras_procrustes.training import fit

    name, recipe = model_name(form, depth), FORMS[form][2]
    log_dir = run_dir(args.out, form, depth, seed)
    cpu_start = time.process_time()
    model = stem_target_one(name, seed, args) if form == "2020_stem1" else name
    metrics = fit(
        model, "fashion_mnist", epochs=args.epochs, seed=seed, recipe=recipe,
        max_train_examples=args.max_train_examples,
        max_test_examples=args.max_test_examples, verbose=2, existing="resume",
        log_dir=log_dir)
    cpu_time = time.process_time() - cpu_start
    return {"form": form, "depth": depth, "seed": seed, "model": name, "recipe": recipe,
            "best_accuracy": 1 - metrics["best_test_error"],
            "last_accuracy": 1 - metrics["last_test_error"],
            "cpu_time_s": cpu_time, "wall_time_s": metrics["wall_time_s"],
            "resumed_from_epoch": metrics.get("resumed_from_epoch"),
            "parameters": metrics["trainable_parameters"], **norm_preservation(log_dir)}


def _spread(values, scale=100, digits=2):
    mean = statistics.mean(values) * scale
    if len(values) < 2:
        return f"{mean:.{digits}f} (one seed: no spread)"
    return f"{mean:.{digits}f} +- {statistics.stdev(values) * scale:.{digits}f}"


def paired_differences(rows, form, reference="resnet"):
    """Per depth, the seeds and `form` minus `reference` in best test accuracy.

    Returns:
        `{depth: (seeds, differences)}` for the depths where both ran.
    """
    result = {}
    for depth in sorted({row["depth"] for row in rows}):
        runs = {key: {r["seed"]: r for r in rows if r["form"] == key and r["depth"] == depth}
                for key in (form, reference)}
        seeds = sorted(set(runs[form]) & set(runs[reference]))
        if seeds:
            result[depth] = (seeds, [runs[form][s]["best_accuracy"]
                                     - runs[reference][s]["best_accuracy"] for s in seeds])
    return result


def table(rows, forms):
    """The Markdown table per depth and form, and the differences paired by seed.

    Args:
        rows: the runs' dicts (`train_one`; rows without a depth are depth 20).
        forms: the forms, in order; `"resnet"` is the reference of the
            paired differences.

    Returns:
        The Markdown text.
    """
    lines = ["| depth | model | parameters | seeds | best test acc (%) | last test acc (%) "
             "| CPU time per run (min) | max \\|ln ratio\\| | median \\|ln ratio\\| |",
             "|---|---|---|---|---|---|---|---|---|"]
    depths = sorted({row["depth"] for row in rows})
    for depth in depths:
        for form in forms:
            runs = [r for r in rows if r["form"] == form and r["depth"] == depth]
            if not runs:
                continue
            norms = [r for r in runs if "max_log_deviation" in r]
            norm_cells = (f"{_spread([r['max_log_deviation'] for r in norms], 1, 3)} | "
                          f"{_spread([r['median_log_deviation'] for r in norms], 1, 3)}"
                          if norms else "not measured | not measured")
            lines.append(
                f"| {depth} | {form_label(form, depth)} | {runs[0]['parameters']:,} | "
                f"{len(runs)} | {_spread([r['best_accuracy'] for r in runs])} | "
                f"{_spread([r['last_accuracy'] for r in runs])} | "
                f"{_spread([r['cpu_time_s'] for r in runs], 1 / 60, 1)} | {norm_cells} |")
    lines += ["", "Paired by seed, minus He et al.'s ResNet of the same depth "
              "(points of best test accuracy):", ""]
    for form in forms:
        if form == "resnet":
            continue
        for depth, (seeds, differences) in paired_differences(rows, form).items():
            each = ", ".join(f"seed {s}: {100 * d:+.2f}" for s, d in zip(seeds, differences))
            lines.append(f"- {form_label(form, depth)}: {each}; mean {_spread(differences)}")
    return "\n".join(lines)


def figure(rows, forms, path):
    """Draws each form's paired difference from He et al. against depth, mean +- std."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    fig, axes = pyplot.subplots(figsize=(6, 4))
    axes.axhline(0, color="grey", linewidth=1)
    for form in forms:
        if form == "resnet":
            continue
        points = paired_differences(rows, form)
        if not points:
            continue
        depths = list(points)
        means = [100 * statistics.mean(d) for _, d in points.values()]
        stds = [100 * statistics.stdev(d) if len(d) > 1 else 0 for _, d in points.values()]
        label = FORMS[form][0].split(", ", 1)[1]  # "2020 form", "2018 form", ...
        axes.errorbar(depths, means, yerr=stds, marker="o", capsize=4,
                      label=f"{label} minus He et al.")
        for depth, (seeds, differences) in points.items():
            axes.scatter([depth] * len(differences), [100 * d for d in differences],
                         s=10, color="black", alpha=0.4)
    axes.set_xscale("log")
    axes.minorticks_off()
    depths = sorted({row["depth"] for row in rows})
    axes.set_xticks(depths, [str(d) for d in depths])
    axes.set_xlabel("depth of He et al.'s ResNet (basic blocks)")
    axes.set_ylabel("best test accuracy difference (points)")
    axes.set_title("Paired by seed (dots), mean +- std over seeds")
    axes.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _load(path):
    with open(path) as handle:
        rows = json.load(handle)
    for row in rows:
        row.setdefault("depth", 20)  # the first study ran at depth 20 only
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--forms", nargs="+", choices=list(FORMS), default=list(FORMS)[:3])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--max-train-examples", type=int, default=10000)
    parser.add_argument("--max-test-examples", type=int, default=None)
    parser.add_argument("--out", default="runs/compare_forms")
    parser.add_argument("--figure", metavar="PNG", help="draw the paired differences to this file")
    parser.add_argument("--table-of", nargs="+", metavar="RESULTS_JSON",
                        help="print the table of these results.json files (joined), no training")
    args = parser.parse_args()
    if args.table_of:
        rows = [row for path in args.table_of for row in _load(path)]
    else:
        rows = run_study(args)
    forms = [form for form in FORMS if any(r["form"] == form for r in rows)]
    print()
    print(table(rows, forms))
    if args.figure:
        figure(rows, forms, args.figure)
        print(f"figure: {args.figure}")


def run_study(args):
    """Trains every (seed, depth, form) not yet in `OUT/results.json`; returns all rows."""
    os.makedirs(args.out, exist_ok=True)
    results_path = os.path.join(args.out, "results.json")
    rows = _load(results_path) if os.path.exists(results_path) else []
    done = {(r["form"], r["depth"], r["seed"]) for r in rows}
    for seed in args.seeds:  # seed-major: a stopped study has whole seeds at every depth
        for depth in args.depths:
            for form in args.forms:
                if (form, depth, seed) in done:
                    continue
                rows.append(train_one(form, depth, seed, args))
                with open(results_path + ".tmp", "w") as handle:
                    json.dump(rows, handle, indent=2)
                os.replace(results_path + ".tmp", results_path)
                print(f"== {form} depth {depth} seed {seed}: best "
                      f"{100 * rows[-1]['best_accuracy']:.2f}%, "
                      f"CPU {rows[-1]['cpu_time_s'] / 60:.1f} min", flush=True)
    return rows


if __name__ == "__main__":
    main()
