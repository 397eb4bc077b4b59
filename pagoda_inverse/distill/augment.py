"""DiffAugment (Zhao et al., NeurIPS 2020): differentiable augmentation of the discriminator's inputs.

PaGoDA's policy: brightness, saturation, contrast, translation (1/8 of the side), cutout (0.2 of
the side). `draw` samples per-image parameters once so the same augmentation can be applied to
several batches (the reconstruction loss augments G(z) and x identically).
"""
import torch


def draw(batch: int, size: int, translation: float = 0.125, cutout: float = 0.2, device=None) -> dict:
    shift = int(size * translation + 0.5)
    cut = int(size * cutout + 0.5)
    return {
        "brightness": torch.rand(batch, 1, 1, 1, device=device) - 0.5,
        "saturation": torch.rand(batch, 1, 1, 1, device=device) * 2,
        "contrast": torch.rand(batch, 1, 1, 1, device=device) + 0.5,
        "shift": torch.randint(-shift, shift + 1, (batch, 2), device=device),
        "cut_size": cut,
        "cut_offset": torch.randint(0, size + (1 - cut % 2), (batch, 2), device=device),
    }


def apply(x: torch.Tensor, p: dict) -> torch.Tensor:
    """Augment (B, C, H, W) images in [-1, 1] with parameters from `draw`."""
    x = x + p["brightness"]
    mean_c = x.mean(dim=1, keepdim=True)
    x = (x - mean_c) * p["saturation"] + mean_c  # a no-op on one channel
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * p["contrast"] + mean
    x = _translate(x, p["shift"])
    if p["cut_size"] > 0:
        x = _cutout(x, p["cut_size"], p["cut_offset"])
    return x


def _translate(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift each image by (dy, dx) pixels, zero padding."""
    b, c, h, w = x.shape
    iy = torch.arange(h, device=x.device)[None, :] - shift[:, :1]  # (B, H) source rows
    ix = torch.arange(w, device=x.device)[None, :] - shift[:, 1:]
    valid = ((iy >= 0) & (iy < h))[:, None, :, None] & ((ix >= 0) & (ix < w))[:, None, None, :]
    iy, ix = iy.clamp(0, h - 1), ix.clamp(0, w - 1)
    out = x.gather(2, iy[:, None, :, None].expand(b, c, h, w)).gather(3, ix[:, None, None, :].expand(b, c, h, w))
    return out * valid


def _cutout(x: torch.Tensor, size: int, offset: torch.Tensor) -> torch.Tensor:
    """Zero a size x size square centred at `offset` (clipped at the borders)."""
    b, _, h, w = x.shape
    y0, x0 = (offset[:, 0] - size // 2)[:, None], (offset[:, 1] - size // 2)[:, None]
    gy, gx = torch.arange(h, device=x.device)[None], torch.arange(w, device=x.device)[None]
    in_y = (gy >= y0) & (gy < y0 + size)
    in_x = (gx >= x0) & (gx < x0 + size)
    mask = ~(in_y[:, :, None] & in_x[:, None, :])
    return x * mask[:, None].to(x.dtype)
