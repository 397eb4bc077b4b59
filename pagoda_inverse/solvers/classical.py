"""The classical restorations: the baselines of every benchmark and the starting points of the latent
solver. Interpolation from torch (Lanczos: Pillow), inpainting and deconvolution from scikit-image, one image and
channel at a time. Images (B, C, H, W) in [0, 1] in and out."""
import numpy as np
import torch

from ..data import upsample
from ..physics import Blur, Downsampling, Inpainting

UPSAMPLERS = ("nearest", "bilinear", "bicubic", "lanczos")


def _per_channel(fn, y: torch.Tensor) -> torch.Tensor:
    """Apply a numpy function (H, W) float64 -> (H, W) to every image and channel."""
    out = np.stack([np.stack([fn(c.double().numpy()) for c in img]) for img in y.detach().cpu()])
    return torch.from_numpy(out).float().clamp(0, 1).to(y.device)


def upscale(y: torch.Tensor, factor: int, mode: str = "bicubic") -> torch.Tensor:
    """Nearest, bilinear, bicubic or Lanczos upsampling by `factor` (the super-resolution baselines)."""
    if mode not in UPSAMPLERS:
        raise ValueError(f"unknown upsampler {mode!r}; use one of {UPSAMPLERS}")
    return upsample(y, (y.shape[-2] * factor, y.shape[-1] * factor), mode)


def biharmonic(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """scikit-image's biharmonic inpainting of the pixels where mask == 0."""
    from skimage.restoration import inpaint_biharmonic

    holes = (mask.expand_as(y) == 0).cpu().numpy()
    out = np.stack([np.stack([inpaint_biharmonic(c, h) if h.any() else c for c, h in zip(img, hole)])
                    for img, hole in zip(y.detach().cpu().double().numpy(), holes)])
    return torch.from_numpy(out).float().clamp(0, 1).to(y.device)


def richardson_lucy(y: torch.Tensor, kernel: torch.Tensor, iterations: int = 30) -> torch.Tensor:
    """scikit-image's Richardson-Lucy deconvolution (its iteration count is the regulariser)."""
    from skimage.restoration import richardson_lucy as rl

    psf = kernel.detach().cpu().double().numpy()
    return _per_channel(lambda c: rl(np.clip(c, 0, 1), psf, num_iter=iterations, clip=True), y)


def wiener(y: torch.Tensor, kernel: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """scikit-image's unsupervised Wiener-Hunt deconvolution (noise and prior levels estimated by
    its Gibbs sampler, seeded)."""
    from skimage.restoration import unsupervised_wiener

    psf = kernel.detach().cpu().double().numpy()
    return _per_channel(lambda c: unsupervised_wiener(c, psf, rng=seed)[0], y)


def classical_restoration(y: torch.Tensor, physics, rl_iterations: int = 30) -> torch.Tensor:
    """The starting point of the latent solver: bicubic upsampling, biharmonic inpainting,
    Richardson-Lucy deconvolution, or the pseudo-inverse A^+ y for any other operator."""
    if isinstance(physics, Downsampling):
        return upscale(y.clamp(0, 1), physics.factor)
    if isinstance(physics, Inpainting):
        return biharmonic(y, physics.mask)
    if isinstance(physics, Blur):
        return richardson_lucy(y, physics.kernel, rl_iterations)
    return physics.A_dagger(y).clamp(0, 1)
