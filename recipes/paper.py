"""The paper's training runs (SPEC section 6), by name.

    python recipes/paper.py --list
    python recipes/paper.py procresnet166_cifar10 [--data-dir DIR] [train options]

Every recipe is SGD (momentum 0.9), lr 0.1 divided by 10 at epochs 150 and
225 of 300, batch 128, weight decay 1e-4, flip/pad/crop augmentation and
projection probability 0.5 (`keras-procrustes-train`'s defaults). Options
after the name are passed on to `keras-procrustes-train` and override the
recipe (e.g. `--epochs 30` scales the schedule down).
"""

import sys

from keras_procrustes.cli import train

MODELS = ("resnet56", "procresnet58", "resnet164", "procresnet166", "resnet1001", "procresnet1003")
RECIPES = {
    f"{model}_{dataset}": ["--model", model, "--dataset", dataset, "--epochs", "300"]
    for model in MODELS
    for dataset in ("cifar10", "cifar100")
}


def main(argv):
    if not argv or argv[0] in ("--list", "-h", "--help"):
        print(__doc__)
        print("Recipes:\n  " + "\n  ".join(sorted(RECIPES)))
        return 0
    name, extra = argv[0], argv[1:]
    if name not in RECIPES:
        print(f"error: unknown recipe {name!r}; see --list", file=sys.stderr)
        return 2
    return train.main(RECIPES[name] + ["--log-dir", f"runs/{name}"] + extra)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
