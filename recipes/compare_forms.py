"""He et al.'s ResNet, the 2018 form and the 2020 form, same budget, over several seeds.

    python recipes/compare_forms.py [--seeds 0 1 2] [--epochs 4] [--max-train-examples 10000]

Trains the three forms at one depth (ResNet-20 basic: `resnet20_baseline`,
`procresnet20_2018` with the 2018 recipe, `procresnet22_basic` with the 2020
recipe) one after the other on Fashion-MNIST (Debian's
dataset-fashion-mnist, found offline), each with the same images, epochs
and seeds, and prints mean +- standard deviation over the seeds of the best
and last test accuracy and the CPU time per model, then each form's
difference from the baseline paired by seed. `--forms 2020_stem1` adds an
ablation: the 2020 form with its stem projected to singular value 1. Runs go to
`OUT/FORM/seedN/`; every finished run is added to `OUT/results.json` at
once, so a stopped study keeps what it did.
"""

import argparse
import json
import os
import statistics
import time

FORMS = {
    "resnet": ("He et al. ResNet-20", "resnet20_baseline", "2020"),
    "2018": ("ProcrustesResNet-20, 2018 form", "procresnet20_2018", "2018"),
    "2020": ("ProcrustesResNet-22, 2020 form", "procresnet22_basic", "2020"),
    # The ablation: the 2020 form with its stem projected to singular value 1
    # instead of sqrt(c_out / c_in) (4 on grey images), which it holds with
    # no batch norm after it.
    "2020_stem1": ("ProcrustesResNet-22, 2020 form, stem target 1", "procresnet22_basic",
                   "2020"),
}


def stem_target_one(seed, args):
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
    model = models.get(FORMS["2020_stem1"][1], input_shape=tuple(info.input_shape),
                       classes=info.classes, preprocessing_mean=info.mean,
                       preprocessing_std=info.std, seed=seed)
    stem = model.get_layer("stem_conv")
    projection = ProcrustesProjection.from_config(
        {**stem.kernel.constraint.get_config(), "target": 1.0, "target_scale": 1.0})
    stem.kernel_constraint = stem.kernel.constraint = projection
    return model


def train_one(form, seed, args):
    """One run of `form` with `seed`; its metrics plus the CPU time."""
    from keras_procrustes.training import fit

    _, model_name, recipe = FORMS[form]
    cpu_start = time.process_time()
    model = stem_target_one(seed, args) if form == "2020_stem1" else model_name
    metrics = fit(
        model, "fashion_mnist", epochs=args.epochs, seed=seed, recipe=recipe,
        max_train_examples=args.max_train_examples,
        max_test_examples=args.max_test_examples, verbose=2, existing="new",
        log_dir=os.path.join(args.out, form, f"seed{seed}"))
    return {"form": form, "seed": seed, "model": model_name, "recipe": recipe,
            "best_accuracy": 1 - metrics["best_test_error"],
            "last_accuracy": 1 - metrics["last_test_error"],
            "cpu_time_s": time.process_time() - cpu_start,
            "wall_time_s": metrics["wall_time_s"],
            "parameters": metrics["trainable_parameters"]}


def _spread(values, scale=100):
    mean = statistics.mean(values) * scale
    if len(values) < 2:
        return f"{mean:.2f} (one seed: no spread)"
    return f"{mean:.2f} +- {statistics.stdev(values) * scale:.2f}"


def table(rows, forms):
    """The Markdown table of mean +- std per form, and the paired differences.

    Args:
        rows: the runs' dicts (`train_one`).
        forms: the forms, in order; the first is the reference of the
            paired differences.

    Returns:
        The Markdown text.
    """
    by_form = {form: {r["seed"]: r for r in rows if r["form"] == form} for form in forms}
    lines = ["| model | parameters | seeds | best test acc (%) | last test acc (%) "
             "| CPU time per model (min) |", "|---|---|---|---|---|---|"]
    for form in forms:
        runs = list(by_form[form].values())
        if not runs:
            continue
        lines.append(
            f"| {FORMS[form][0]} | {runs[0]['parameters']:,} | {len(runs)} | "
            f"{_spread([r['best_accuracy'] for r in runs])} | "
            f"{_spread([r['last_accuracy'] for r in runs])} | "
            f"{_spread([r['cpu_time_s'] for r in runs], 1 / 60)} |")
    reference = forms[0]
    lines += ["", f"Paired by seed, minus {FORMS[reference][0]} (points of best test accuracy):",
              ""]
    for form in forms[1:]:
        seeds = sorted(set(by_form[form]) & set(by_form[reference]))
        if not seeds:
            continue
        differences = [by_form[form][s]["best_accuracy"] - by_form[reference][s]["best_accuracy"]
                       for s in seeds]
        each = ", ".join(f"seed {s}: {100 * d:+.2f}" for s, d in zip(seeds, differences))
        lines.append(f"- {FORMS[form][0]}: {each}; mean {_spread(differences)}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--forms", nargs="+", choices=list(FORMS), default=list(FORMS)[:3])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--max-train-examples", type=int, default=10000)
    parser.add_argument("--max-test-examples", type=int, default=None)
    parser.add_argument("--out", default="runs/compare_forms")
    parser.add_argument("--table-of", nargs="+", metavar="RESULTS_JSON",
                        help="print the table of these results.json files (joined), no training")
    args = parser.parse_args()
    if args.table_of:
        rows = [row for path in args.table_of for row in json.load(open(path))]
        print(table(rows, [form for form in FORMS if any(r["form"] == form for r in rows)]))
        return
    os.makedirs(args.out, exist_ok=True)
    results_path = os.path.join(args.out, "results.json")
    rows = []
    for seed in args.seeds:  # seed-major: a stopped study has whole seeds
        for form in args.forms:
            rows.append(train_one(form, seed, args))
            with open(results_path, "w") as handle:
                json.dump(rows, handle, indent=2)
            print(f"== {form} seed {seed}: best {100 * rows[-1]['best_accuracy']:.2f}%, "
                  f"CPU {rows[-1]['cpu_time_s'] / 60:.1f} min", flush=True)
    print()
    print(table(rows, args.forms))


if __name__ == "__main__":
    main()
