"""Procrustes against baseline, same budget and seed, on offline real data.

    python recipes/compare_fashion_mnist.py [--epochs 8] [--max-train-examples 20000]

Trains ProcrustesResNet-58 (`procrustes=True`) and ResNet-56 (`procrustes=False`)
one after the other on Fashion-MNIST (Debian's dataset-fashion-mnist, found
offline), with the paper's recipe scaled to the budget, and prints a table
of test accuracy, CPU time and wall time. Logs go to runs/compare/.
"""

import argparse
import json
import os
import time

from keras_procrustes.training import fit


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--max-train-examples", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/compare")
    args = parser.parse_args()
    rows = []
    for model in ("procresnet58", "resnet56_baseline"):
        cpu_start = time.process_time()
        metrics = fit(model, "fashion_mnist", epochs=args.epochs,
                      max_train_examples=args.max_train_examples, seed=args.seed,
                      verbose=2, log_dir=os.path.join(args.out, model), existing="new")
        metrics["cpu_time_s"] = time.process_time() - cpu_start
        rows.append(metrics)
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(rows, handle, indent=2)
    print("\n| model | procrustes | best test acc | last test acc | CPU time | wall time |")
    print("|---|---|---|---|---|---|")
    for m in rows:
        print(
            f"| {m['model']} | {m['model'].startswith('proc')} | "
            f"{100 * (1 - m['best_test_error']):.2f}% | {100 * (1 - m['last_test_error']):.2f}% | "
            f"{m['cpu_time_s'] / 60:.1f} min | {m['wall_time_s'] / 60:.1f} min |"
        )


if __name__ == "__main__":
    main()
