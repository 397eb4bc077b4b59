"""Inpainting: y = m * x with a 0/1 mask m (1 = observed pixel), and the mask makers."""
from pathlib import Path

import torch

from ..data import load_image
from .base import LinearPhysics


class Inpainting(LinearPhysics):
    """y = mask * x. A is an orthogonal projection, so A^T = A^T A = A^+ = A. `mask` is (H, W),
    (1, 1, H, W) or (B, C, H, W), holding 0 (missing) and 1 (observed) only; batch B gives each image
    its own mask."""

    task = "inpaint"
    params = ("mask",)

    def __init__(self, mask: torch.Tensor, sigma: float = 0.0):
        super().__init__(sigma)
        self.register_buffer("mask", self.check_parameter("mask", torch.as_tensor(mask)))

    def check_parameter(self, name: str, mask: torch.Tensor) -> torch.Tensor:
        if mask.ndim == 2:
            mask = mask[None, None]
        if mask.ndim != 4:
            raise ValueError(f"Inpainting: mask must be (H, W), (1, 1, H, W) or (B, C, H, W), got shape {tuple(mask.shape)}")
        if not ((mask == 0) | (mask == 1)).all():
            raise ValueError("Inpainting: mask must hold 0 (missing) and 1 (observed) only")
        return mask.float()

    @property
    def keeps_pixels(self) -> bool:
        return self.noise_model.sigma == 0

    def A(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.update_parameters(mask=mask)
        return self.mask * x

    def A_adjoint(self, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.A(y, mask)

    def A_adjoint_A(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.A(x, mask)  # m * m * x = m * x for a 0/1 mask

    def A_dagger(self, y: torch.Tensor, mask: torch.Tensor | None = None, **_) -> torch.Tensor:
        return self.A(y, mask)


def box_mask(size: tuple[int, int], box: int | tuple[int, int, int, int]) -> torch.Tensor:
    """A (1, 1, H, W) mask missing one rectangle: `box` is a side s (a centred s x s hole) or
    (top, left, height, width)."""
    h, w = size
    if isinstance(box, int):
        box = ((h - box) // 2, (w - box) // 2, box, box)
    top, left, bh, bw = box
    if top < 0 or left < 0 or bh < 1 or bw < 1 or top + bh > h or left + bw > w:
        raise ValueError(f"box_mask: the box (top, left, height, width) = {tuple(box)} does not fit in {h}x{w}")
    mask = torch.ones(1, 1, h, w)
    mask[..., top:top + bh, left:left + bw] = 0
    return mask


def random_mask(size: tuple[int, int], missing: float, seed: int) -> torch.Tensor:
    """A (1, 1, H, W) mask missing exactly round(missing * H * W) pixels, drawn from `seed`."""
    h, w = size
    if not 0 <= missing < 1:
        raise ValueError(f"random_mask: missing is a fraction in [0, 1), got {missing}")
    generator = torch.Generator().manual_seed(seed)
    mask = torch.ones(h * w)
    mask[torch.randperm(h * w, generator=generator)[:round(missing * h * w)]] = 0
    return mask.view(1, 1, h, w)


def mask_from_image(path: str | Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """A (1, 1, H, W) mask from an image file: white = observed, black = missing (threshold 0.5)."""
    gray = load_image(path, channels=1)
    if size is not None and tuple(gray.shape[-2:]) != tuple(size):
        raise ValueError(f"{path}: the mask is {gray.shape[-2]}x{gray.shape[-1]}, the image is {size[0]}x{size[1]}")
    return (gray[None] > 0.5).float()
