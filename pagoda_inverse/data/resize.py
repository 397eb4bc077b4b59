"""The one resampling rule of the project.

`downsample` is used everywhere an image goes to a lower resolution: teacher training data,
the encoder's input, the task layer's measurements and the benchmarks. It follows the official
PaGoDA preprocessing: box-filter halving while the image is at least twice the target, then an
antialiased bicubic resize for what is left (a no-op for power-of-two factors).

`degrade` is the exception, on purpose: a low-resolution image as a user's was made (Pillow's box,
bilinear, bicubic or Lanczos reduction, mild blur, 8 bits), for the photo decoder's training inputs
and the benchmark that measures its robustness to them.
"""
import math

import numpy as np
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
    """The classical super-resolution baselines: nearest, bilinear, bicubic (torch's) or lanczos
    (Pillow's) to `size` (int = square), clamped to [0, 1] (bicubic and Lanczos overshoot)."""
    if mode == "nearest":
        return upsample_nearest(x, size)
    size = (size, size) if isinstance(size, int) else size
    if mode == "lanczos":
        return resize_pil(x, size, "lanczos").clamp(0, 1)
    return F.interpolate(x, size=size, mode=mode, align_corners=False).clamp(0, 1)


# How a user's low-resolution image was likely made: Pillow's antialiased reductions. The photo
# decoder trains on a mix of them (issue: robust to how the low-resolution image was made).
LOWRES_KERNELS = ("box", "bilinear", "bicubic", "lanczos")


def resize_pil(x: torch.Tensor, size: int | tuple[int, int], kernel: str) -> torch.Tensor:
    """Resize (B, C, H, W) images to `size` with Pillow's `kernel` filter (antialiased when reducing),
    channel by channel in float32, as Image.resize does for a user's photo."""
    from PIL import Image

    filters = {"box": Image.Resampling.BOX, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}
    if kernel not in filters:
        raise ValueError(f"unknown resampling kernel {kernel!r}; use one of {', '.join(filters)}")
    th, tw = (size, size) if isinstance(size, int) else size
    a = x.detach().cpu().float().numpy()
    out = np.empty((*a.shape[:2], th, tw), dtype=np.float32)
    for b in range(a.shape[0]):
        for c in range(a.shape[1]):
            out[b, c] = np.asarray(Image.fromarray(a[b, c]).resize((tw, th), filters[kernel]))
    return torch.from_numpy(out).to(x.device)


def lowres_draw(seed: int, index: int, blur_prob: float = 0.5, blur_max: float = 1.0) -> tuple[str, float]:
    """The (kernel, Gaussian blur sigma in high-resolution pixels) of image `index` of a mixed set:
    a function of (seed, index) only, so every stage and process draws the same."""
    g = np.random.default_rng([seed, index])
    kernel = LOWRES_KERNELS[g.integers(len(LOWRES_KERNELS))]
    return kernel, (float(g.uniform(0.0, blur_max)) if g.random() < blur_prob else 0.0)


def degrade(x: torch.Tensor, size: int | tuple[int, int], kernel: str, blur_sigma: float = 0.0) -> torch.Tensor:
    """A low-resolution image as a user's would be: images in [0, 1], optionally blurred (Gaussian,
    sigma in input pixels), reduced by Pillow's `kernel`, then clipped and rounded to 8 bits."""
    import kornia

    if blur_sigma > 0:
        k = 2 * math.ceil(3 * blur_sigma) + 1
        x = kornia.filters.gaussian_blur2d(x, (k, k), (blur_sigma, blur_sigma), border_type="reflect")
    return (resize_pil(x, size, kernel).clamp(0, 1) * 255).round() / 255


def degrade_mix(x: torch.Tensor, size: int | tuple[int, int], seed: int = 0, first_index: int = 0) -> torch.Tensor:
    """degrade() each image of (B, C, H, W) in [0, 1] with its own lowres_draw(seed, first_index + i)."""
    return torch.cat([degrade(x[i:i + 1], size, *lowres_draw(seed, first_index + i)) for i in range(len(x))])
