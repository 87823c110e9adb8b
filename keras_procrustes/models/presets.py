"""The preset table: every named architecture, as plain data.

One entry per architecture. The registry (`models.get`, `models.list_models`),
the parameter-count tests and the README's table of presets all read it;
`markdown_table()` renders the README's table.

An entry holds:
    builder: the family's builder in `keras_procrustes.models` (`resnet164`).
    arguments: what the preset passes to it (`{"procrustes": True}`).
    depth, block_type: He et al.'s layer count of the family, and its block.
    parameters: trainable parameters with the CIFAR head, by class count.
    parameters_from: `"authors_code"` where the count is the one of the
        authors' public PyTorch classes (Zaeemzadeh, Rahnavard & Shah, TPAMI
        2020, arXiv:1805.07477), counted by hand too; `"build"` where it was
        measured by building the model. Tests assert every count.
    reference: the paper the architecture comes from.
    published: CIFAR test errors (%) as published: `(dataset, error, source)`.
    weights: `None`, or `{"origin": URL, "file_hash": sha256}` of published
        weights. No preset has weights yet.
"""

HE = "He et al. 2016"
HE_PAPER = "He et al., Identity Mappings in Deep Residual Networks, ECCV 2016"
PROCRUSTES_PAPER = (
    "Zaeemzadeh et al., Norm-Preservation: Why Residual Networks Can Become "
    "Extremely Deep?, TPAMI 2020"
)
PROCRUSTES_PAPER_2018 = (
    "Zaeemzadeh et al., Norm-Preservation: Why Residual Networks Can Become "
    "Extremely Deep?, arXiv:1805.07477 v1, 2018"
)
CHAINER = "Zaeemzadeh et al. 2020 (Chainer code)"
PYTORCH = "Zaeemzadeh et al. 2020 (PyTorch code)"


def _preset(depth, block_type, procrustes, parameters, reference, published=(),
            parameters_from="build"):
    return {
        "builder": f"resnet{depth}",
        "arguments": {"procrustes": procrustes},
        "depth": depth,
        "block_type": block_type,
        "parameters": {10: parameters[0], 100: parameters[1]},
        "parameters_from": parameters_from,
        "reference": reference,
        "published": tuple(published),
        "weights": None,
    }


def _preset_2018(depth, parameters):
    """The paper's first form: parameter-free transitions, orthonormal classifier.

    The counts were measured by building the model; they equal the counts
    of the layer list of the authors' Torch code (zaeemzadeh/ProcResNet,
    2018) at 164 (10 and 100 classes) and 1001 (10 classes).
    """
    return {
        "builder": "procresnet_2018",
        "arguments": {"depth": depth},
        "depth": depth,
        "block_type": "bottleneck",
        "form": "2018",
        "parameters": {10: parameters[0], 100: parameters[1]},
        "parameters_from": "build",
        "reference": PROCRUSTES_PAPER_2018,
        "published": (),
        "weights": None,
    }


PRESETS = {
    # He et al.'s CIFAR depths with basic blocks, pre-activation.
    "resnet20_baseline": _preset(20, "basic", False, (272_282, 278_132), HE_PAPER),
    "procresnet22": _preset(20, "basic", True, (295_418, 301_268), PROCRUSTES_PAPER),
    "resnet32_baseline": _preset(32, "basic", False, (466_714, 472_564), HE_PAPER),
    "procresnet34": _preset(32, "basic", True, (489_850, 495_700), PROCRUSTES_PAPER),
    "resnet44_baseline": _preset(44, "basic", False, (661_146, 666_996), HE_PAPER),
    "procresnet46": _preset(44, "basic", True, (684_282, 690_132), PROCRUSTES_PAPER),
    "resnet56_baseline": _preset(56, "basic", False, (855_578, 861_428), HE_PAPER),
    "procresnet58": _preset(56, "basic", True, (878_714, 884_564), PROCRUSTES_PAPER),
    "resnet110_baseline": _preset(110, "basic", False, (1_730_522, 1_736_372), HE_PAPER),
    "procresnet112": _preset(110, "basic", True, (1_753_658, 1_759_508), PROCRUSTES_PAPER),
    # Bottleneck: He et al.'s 164 and 1001, the authors' 272 and 632.
    "resnet164_baseline": _preset(
        164, "bottleneck", False, (1_703_258, 1_726_388), HE_PAPER,
        published=[("cifar10", 5.46, HE), ("cifar100", 24.33, HE)]),
    "procresnet166": _preset(
        164, "bottleneck", True, (1_715_018, 1_738_148), PROCRUSTES_PAPER,
        published=[("cifar10", 4.75, CHAINER)], parameters_from="authors_code"),
    "resnet272_baseline": _preset(
        272, "bottleneck", False, (2_816_090, 2_839_220), PROCRUSTES_PAPER,
        published=[("cifar10", 4.73, PYTORCH)]),
    "procresnet274": _preset(
        272, "bottleneck", True, (2_827_850, 2_850_980), PROCRUSTES_PAPER,
        published=[("cifar10", 4.20, PYTORCH)]),
    "resnet632_baseline": _preset(
        632, "bottleneck", False, (6_525_530, 6_548_660), PROCRUSTES_PAPER,
        published=[("cifar10", 4.59, PYTORCH)]),
    "procresnet634": _preset(
        632, "bottleneck", True, (6_537_290, 6_560_420), PROCRUSTES_PAPER,
        published=[("cifar10", 3.78, PYTORCH)]),
    "resnet1001_baseline": _preset(
        1001, "bottleneck", False, (10_327_706, 10_350_836), HE_PAPER,
        published=[("cifar10", 4.62, HE), ("cifar10", 4.52, PYTORCH),
                   ("cifar100", 22.71, HE)]),
    "procresnet1003": _preset(
        1001, "bottleneck", True, (10_339_466, 10_362_596), PROCRUSTES_PAPER,
        published=[("cifar10", 3.84, PYTORCH)], parameters_from="authors_code"),
    # The paper's first (2018) form: L2 pooling and channel duplication.
    "procresnet164_2018": _preset_2018(164, (1_672_762, 1_695_892)),
    "procresnet1001_2018": _preset_2018(1001, (10_297_210, 10_320_340)),
}
"""Every preset by name: its builder arguments, depth, block type, form,
trainable parameters per class count, reference and published results."""

# He et al.'s depth -> block type, for every family with presets.
FAMILIES = {preset["depth"]: preset["block_type"] for preset in PRESETS.values()}

SOURCE_TAGS = {HE: "H", CHAINER: "Z", PYTORCH: "Z"}


def _architecture(preset):
    depth = preset["depth"]
    if preset.get("form") == "2018":
        return f"ProcrustesResNet-{depth} (2018 form)"
    if preset["arguments"]["procrustes"]:
        return f"ProcrustesResNet-{depth + 2}"
    return f"ResNet-{depth}"


def _published(preset, dataset):
    return ", ".join(
        f"{error:.2f} ({SOURCE_TAGS[source]})"
        for data_set, error, source in preset["published"]
        if data_set == dataset
    )


def _row(name, preset):
    call = ", ".join(f"{key}={value!r}" for key, value in preset["arguments"].items()
                     if (key, value) != ("procrustes", True))
    count_10, count_100 = (f"{preset['parameters'][c]:,}" for c in (10, 100))
    if preset["parameters_from"] == "authors_code":
        count_10, count_100 = f"{count_10}\\*", f"{count_100}\\*"
    cells = [
        f"`{name}`",
        _architecture(preset),
        preset["block_type"],
        f"`{preset['builder']}({call})`",
        count_10,
        count_100,
        _published(preset, "cifar10"),
        _published(preset, "cifar100"),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown_table():
    """The README's table of presets, rendered from `PRESETS`.

    Returns:
        Markdown: the table and its legend, ending in a newline.
    """
    header = [
        "| preset | architecture | blocks | builder | parameters, 10 classes "
        "| 100 classes | CIFAR-10 error % | CIFAR-100 error % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [_row(name, preset) for name, preset in PRESETS.items()]
    legend = [
        "",
        "Trainable parameters with a CIFAR head. \\* as the authors' public "
        "PyTorch classes count it (and by hand); the other counts were measured "
        "by building the model. `tests/test_presets.py` asserts every count.",
        "",
        f"Published test errors, one run each: (H) {HE_PAPER}; (Z) "
        f"{PROCRUSTES_PAPER}, with the authors' Chainer (ProcrustesResNet-166) or "
        "PyTorch code.",
    ]
    return "\n".join(header + rows + legend) + "\n"
