"""Per-image PSNR, SSIM and HaarPSI, images (B, C, H, W) in [0, 1], data_range = 1.0.

PSNR = -10 log10(MSE) over all pixels and channels, in float64. It is piq's formula without
piq's epsilon (piq adds 1e-8 to the MSE, which caps it at 80 dB and reads 76.5 dB for a true
79 dB: the encoder round trips measured here live near that ceiling); identical images give inf.
Up to 40 dB the two agree to 1e-3 dB (tested). SSIM is Wang et al. (2004) as piq computes it: an 11x11 Gaussian window with
sigma 1.5, K1 = 0.01, K2 = 0.03, valid (unpadded) filtering, averaged over channels. Window rule
(SSIM_WINDOW_RULE): images whose shorter side is under 11 px (our 8x8 samples) use the largest
odd window that fits, same sigma; nothing is resized. HaarPSI (Reisenhofer et al., 2018), piq's, is
a judge with no learned weights for models that train on a learned perceptual distance.
"""
import piq
import torch

DATA_RANGE = 1.0
SSIM_WINDOW = 11
SSIM_WINDOW_RULE = (f"Gaussian window {SSIM_WINDOW}x{SSIM_WINDOW}, sigma 1.5; "
                    f"images under {SSIM_WINDOW} px use the largest odd window that fits")


def _check(x: torch.Tensor, y: torch.Tensor, name: str) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"{name} wants two (B, C, H, W) batches of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB (B,), float32 (computed in float64)."""
    _check(x, y, "psnr")
    mse = ((x.double() - y.double()) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(DATA_RANGE ** 2 / mse)).float()


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (B,)."""
    _check(x, y, "ssim")
    side = min(x.shape[-2:])
    window = SSIM_WINDOW if side >= SSIM_WINDOW else side - (1 - side % 2)
    return piq.ssim(x.float(), y.float(), kernel_size=window, kernel_sigma=1.5, data_range=DATA_RANGE, reduction="none")


def haarpsi(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image HaarPSI (B,) in [0, 1], 1 for identical images; piq's, which needs sides of 32 px or more."""
    _check(x, y, "haarpsi")
    if min(x.shape[-2:]) < 32:
        raise ValueError(f"haarpsi needs images of at least 32x32, got {x.shape[-2]}x{x.shape[-1]}")
    return piq.haarpsi(x.float().clamp(0, 1), y.float().clamp(0, 1), data_range=DATA_RANGE, reduction="none")
