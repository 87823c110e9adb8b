"""He et al.'s pre-activation ResNet-164 as a PyTorch user writes it.

torch.nn modules, channels_last memory, bf16 autocast, `torch.compile` of
the model, `torch.optim.SGD` (momentum 0.9, weight decay 1e-4): the usual
fast recipe, to hold the Keras models' steps against.
"""

import torch
from torch import nn
from torch.nn import functional

from gpu_suite import memory
from gpu_suite import plan
from gpu_suite import timing


class PreActBottleneck(nn.Module):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3 (stride), BN-ReLU-conv1x1 (x4 width).

    The first block of a stage projects its shortcut with a 1x1 conv from
    the pre-activated input (He et al. 2016, Identity Mappings).
    """

    def __init__(self, in_channels, width, stride):
        super().__init__()
        out_channels = 4 * width
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride,
                                      bias=False)

    def forward(self, x):
        activated = functional.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(activated)
        h = self.conv1(activated)
        h = self.conv2(functional.relu(self.bn2(h)))
        h = self.conv3(functional.relu(self.bn3(h)))
        return h + shortcut


class PreActResNet(nn.Module):
    """A CIFAR pre-activation bottleneck ResNet: 9n+2 layers (n=18: ResNet-164)."""

    def __init__(self, blocks_per_stage=18, widths=(16, 32, 64), classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        layers, channels = [], widths[0]
        for stage, width in enumerate(widths):
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(PreActBottleneck(channels, width, stride))
                channels = 4 * width
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        h = self.blocks(self.stem(x))
        h = functional.relu(self.bn(h))
        return self.fc(torch.flatten(functional.adaptive_avg_pool2d(h, 1), 1))


def build(sizes):
    """ResNet-164, or the dry run's stand-in (`plan.DRY_RUN_BLOCKS`)."""
    if sizes["dry_run"]:
        return PreActResNet(plan.DRY_RUN_BLOCKS[plan.BASE], plan.DRY_RUN_WIDTHS)
    return PreActResNet(18)


def train_flops_per_image(sizes, batch=2):
    """FLOPs of one image's training step, by `torch.utils.flop_counter`
    (forward and backward convolutions and matrix products), on the CPU."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build(sizes)
    size = sizes["image_size"]
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 10, (batch,))
    with FlopCounterMode(display=False) as counter:
        functional.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / batch


_STATE = {}


def _training_step(sizes):
    if "step" in _STATE:
        return _STATE["step"], _STATE["device"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = True
    model = build(sizes).to(device, memory_format=torch.channels_last)
    compiled = torch.compile(model)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)

    def step(x, y):
        with torch.autocast(device, dtype=torch.bfloat16):
            loss = functional.cross_entropy(compiled(x), y)
        sgd.zero_grad(set_to_none=True)
        loss.backward()
        sgd.step()
        return loss

    _STATE.update(step=step, device=device,
                  parameters=sum(p.numel() for p in model.parameters()))
    return step, device


def measure(measurement, sizes):
    """Times the plain-PyTorch step at one batch size.

    Returns:
        A dict of figures like `keras_step.measure`'s.
    """
    step, device = _training_step(sizes)
    batch, size = measurement["batch"], sizes["image_size"]
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, 3, size, size, generator=generator) * 2 - 1).to(
        device, memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), generator=generator).to(device)
    memory.reset_peak("torch")

    def synchronised_step():
        loss = step(x, y).item()  # .item() waits for the GPU
        if loss != loss:
            raise FloatingPointError("non-finite loss")

    result = timing.time_steps(synchronised_step, sizes["warmup_steps"],
                               sizes["timed_steps"])
    timing.with_rate(result, batch)
    result["peak_memory_gib"], result["memory_source"] = memory.peak_gib("torch")
    result["device"] = memory.device_name("torch")
    result["parameters"] = _STATE["parameters"]
    result["compiled"] = "torch.compile(model), bf16 autocast, channels_last"
    return result
