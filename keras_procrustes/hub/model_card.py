"""The model card (`README.md`) of a preset made from a run folder."""

import shlex

import keras

import keras_procrustes
from keras_procrustes.models import names
from keras_procrustes.models import presets as model_presets
from keras_procrustes.models import registry
from keras_procrustes.optional import require

DATASET_TITLES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
                  "fashion_mnist": "Fashion-MNIST"}


def _paper(architecture):
    """The paper of an architecture: the 2018 form's, the baseline's or the 2020 form's."""
    form = names.parse(architecture).form
    if form == "2018":
        return model_presets.PROCRUSTES_PAPER_2018 + " (arXiv:1805.07477)"
    if form == "baseline":
        return model_presets.HE_PAPER + " (arXiv:1603.05027)"
    return model_presets.PROCRUSTES_PAPER + " (arXiv:1805.07477)"


def train_command(options):
    """The `keras-procrustes-train` command of a run's recorded options.

    Args:
        options: the manifest's `options`.

    Returns:
        The command as one shell line.
    """
    from keras_procrustes.cli import flags
    from keras_procrustes.training.config import TrainingConfig

    known = {key: value for key, value in options.items()
             if key in TrainingConfig.__dataclass_fields__}
    return shlex.join(["keras-procrustes-train", *flags.command_line(TrainingConfig, known)])


def _metrics_rows(metrics):
    """`| name | value |` rows of the numbers in `metrics.json`."""
    rows = [f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |"
            for key, value in metrics.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)]
    return ["| metric | value |", "|---|---|", *rows] if rows else ["(none recorded)"]


def render(classifier, manifest, metrics):
    """The model card of a preset.

    Args:
        classifier: the `ProcrustesResNetImageClassifier` of the preset.
        manifest: the run's manifest (`keras_procrustes_run.json`).
        metrics: the run's `metrics.json`.

    Returns:
        Markdown text.
    """
    options = manifest["options"]
    architecture = classifier.backbone.architecture
    dataset = options.get("dataset")
    title = DATASET_TITLES.get(dataset, str(dataset))
    hub = require("keras_hub", "hub")
    names = classifier.class_names
    lines = [
        f"# {registry.canonical_name(architecture)} trained on {title}",
        "",
        (f"A `{architecture}` image classifier ({classifier.num_classes} classes) "
         "for KerasHub, made with `keras_procrustes.hub.save_run_as_preset`."),
        "",
        "## Use",
        "",
        "```python",
        "import keras_hub",
        "import keras_procrustes.hub  # registers the classes with Keras",
        "",
        'classifier = keras_hub.models.ImageClassifier.from_preset("PRESET")',
        "probabilities = classifier.predict(images)  # raw pixels, uint8 or [0, 255]",
        "```",
        "",
        (f"Input: images of shape {tuple(classifier.backbone.image_shape)}; the "
         "preprocessor standardises them with the training set's statistics."),
        "",
        "## Architecture",
        "",
        f"`{architecture}`: {_paper(architecture)}.",
        "",
        "## Data",
        "",
        f"{title}; classes in label order: "
        + (", ".join(f"`{n}`" for n in names) if names else "(not named)") + ".",
        "",
        "## Results (`metrics.json` of the run)",
        "",
        *_metrics_rows(metrics),
        "",
        "## Training",
        "",
        "The run's options, as the command that trains it again:",
        "",
        "```bash",
        train_command(options),
        "```",
        "",
        (f"Trained on the {manifest.get('backend', 'unknown')} backend "
         f"({manifest.get('replicas', 1)} replica(s))."),
        "",
        "## Versions",
        "",
        (f"keras_procrustes {keras_procrustes.__version__}, Keras {keras.version()}, "
         f"keras-hub {hub.__version__}."),
        "",
    ]
    return "\n".join(lines)
