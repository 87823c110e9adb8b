"""Dense peak FLOP/s of the GPUs the suite is sized for, from NVIDIA's datasheets.

NVIDIA's H100 and H200 datasheets give Tensor Core rates "with sparsity"
(2:4 structured); a dense matrix product gets half of them. The figures below
are the datasheets' numbers halved for TF32 and BF16, and their plain FP32
(non-Tensor-Core) rate as printed, in TFLOP/s.

Sources:
    NVIDIA H100 Tensor Core GPU datasheet (SXM, PCIe and NVL columns),
    https://www.nvidia.com/en-us/data-center/h100/
    NVIDIA H200 Tensor Core GPU datasheet (SXM and NVL columns),
    https://www.nvidia.com/en-us/data-center/h200/
"""

SOURCE_H100 = "NVIDIA H100 datasheet, https://www.nvidia.com/en-us/data-center/h100/"
SOURCE_H200 = "NVIDIA H200 datasheet, https://www.nvidia.com/en-us/data-center/h200/"

# name fragment (as torch.cuda.get_device_name prints it) -> dense TFLOP/s.
# More specific fragments first.
PEAKS = (
    ("H200 NVL", {"bf16": 835.5, "tf32": 417.5, "fp32": 60.0, "source": SOURCE_H200}),
    ("H200", {"bf16": 989.5, "tf32": 494.5, "fp32": 67.0, "source": SOURCE_H200}),
    ("H100 NVL", {"bf16": 835.5, "tf32": 417.5, "fp32": 60.0, "source": SOURCE_H100}),
    ("H100 PCIe", {"bf16": 756.5, "tf32": 378.0, "fp32": 51.0, "source": SOURCE_H100}),
    ("H100", {"bf16": 989.5, "tf32": 494.5, "fp32": 67.0, "source": SOURCE_H100}),
)


def peak_for(device_name):
    """The dense peaks of a GPU, by its name.

    Args:
        device_name: e.g. `"NVIDIA H200"`, `"NVIDIA H100 80GB HBM3"`.

    Returns:
        `{"bf16": TFLOP/s, "tf32": ..., "fp32": ..., "source": text,
        "matched": fragment}`, or `None` for a GPU not in the table.
    """
    for fragment, peak in PEAKS:
        if fragment in device_name:
            return dict(peak, matched=fragment)
    return None


def peak_key(dtype):
    """Which peak a setting is held against: bf16, or TF32 for float32.

    JAX and PyTorch's cuDNN run float32 convolutions on TF32 Tensor Cores
    by default on Hopper, so TF32 is the float32 settings' ceiling.
    """
    return "bf16" if "bfloat16" in dtype else "tf32"
