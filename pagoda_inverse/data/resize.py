"""The one resampling rule of the project.

`downsample` is used everywhere an image goes to a lower resolution: teacher training data,
the encoder's input, the task layer's measurements and the benchmarks. It follows the official
PaGoDA preprocessing: box-filter halving while the image is at least twice the target, then an
antialiased bicubic resize for what is left (a no-op for power-of-two factors).
"""
import torch
import torch.nn.functional as F


def downsample(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Antialiased downsampling of (B, C, H, W) images to `size` (int = square)."""
    th, tw = (size, size) if isinstance(size, int) else size
    if th > x.shape[-2] or tw > x.shape[-1]:
        raise ValueError(f"downsample: target {th}x{tw} is larger than the input {x.shape[-2]}x{x.shape[-1]}")
    while x.shape[-2] >= 2 * th and x.shape[-1] >= 2 * tw and x.shape[-2] % 2 == 0 and x.shape[-1] % 2 == 0:
        x = F.avg_pool2d(x, 2)
    if x.shape[-2:] != (th, tw):
        x = F.interpolate(x, size=(th, tw), mode="bicubic", antialias=True, align_corners=False)
    return x


def upsample_nearest(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=(size, size) if isinstance(size, int) else size, mode="nearest")


def upsample(x: torch.Tensor, size: int | tuple[int, int], mode: str = "bicubic") -> torch.Tensor:
    """The classical super-resolution baselines: nearest, bilinear or bicubic to `size` (int =
    square), clamped to [0, 1] (bicubic overshoots)."""
    if mode == "nearest":
        return upsample_nearest(x, size)
    size = (size, size) if isinstance(size, int) else size
    return F.interpolate(x, size=size, mode=mode, align_corners=False).clamp(0, 1)
