"""The paper's training runs (Zaeemzadeh, Rahnavard & Shah, TPAMI 2020, arXiv:1805.07477), by name.

    python recipes/paper.py --list
    python recipes/paper.py procresnet166_cifar10 [--data-dir DIR] [train options]

Every recipe is SGD (momentum 0.9), lr 0.1 divided by 10 at epochs 150 and
225 of 300, batch 128, weight decay 1e-4, flip/pad/crop augmentation and
projection probability 0.5 (`keras-procrustes-train`'s defaults). Options
after the name are passed on to `keras-procrustes-train` and override the
recipe (e.g. `--epochs 30` scales the schedule down). The old names of the
baselines' recipes (`resnet164_cifar10`, ...) still run the baseline,
into their old run folders.
"""

import sys

from keras_procrustes.cli import train

MODELS = ("resnet56_baseline", "procresnet58", "resnet164_baseline", "procresnet166",
          "resnet1001_baseline", "procresnet1003")
DATASETS = ("cifar10", "cifar100")
RECIPES = {
    f"{model}_{dataset}": ["--model", model, "--dataset", dataset, "--epochs", "300"]
    for model in MODELS
    for dataset in DATASETS
}
# The old names of the baselines' recipes: they still run the baseline,
# into the same run folder (runs/resnet164_cifar10), so their runs resume.
OLD_NAMES = {
    f"{model[: -len('_baseline')]}_{dataset}": f"{model}_{dataset}"
    for model in MODELS if model.endswith("_baseline")
    for dataset in DATASETS
}


def train_arguments(name):
    """The `keras-procrustes-train` arguments of a recipe, and a warning for an old name.

    Args:
        name: a recipe's name (or a baseline's old one).

    Returns:
        `(arguments, warning)`: the arguments, and `None` or the line that
        says the name is old.

    Raises:
        KeyError: for an unknown name.
    """
    recipe = OLD_NAMES.get(name, name)
    warning = None
    if recipe != name:
        warning = f"warning: recipe {name!r} is now called {recipe!r} (He et al.'s baseline)"
    return RECIPES[recipe] + ["--log-dir", f"runs/{name}"], warning


def main(argv):
    if not argv or argv[0] in ("--list", "-h", "--help"):
        print(__doc__)
        print("Recipes:\n  " + "\n  ".join(sorted(RECIPES)))
        return 0
    name, extra = argv[0], argv[1:]
    try:
        arguments, warning = train_arguments(name)
    except KeyError:
        print(f"error: unknown recipe {name!r}; see --list", file=sys.stderr)
        return 2
    if warning:
        print(warning, file=sys.stderr)
    return train.main(arguments + extra)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
