"""Deblurring: y = k * x, a true convolution (as deepinv's conv2d and scipy's convolve), and the kernel makers."""
import math
from pathlib import Path

import kornia
import torch

from ..data import load_image
from .base import LinearPhysics

# torch's names: "reflect" mirrors without repeating the edge pixel (scipy's mode="mirror").
PADDINGS = ("reflect", "replicate", "circular", "constant")
BLUR_FORMS = "gaussian:SIGMA, motion:LENGTH,ANGLE or a kernel image file"


class Blur(LinearPhysics):
    """y = k * x with a (k_h, k_w) kernel of odd sides, normalised to sum 1. `padding` is one of
    PADDINGS; "reflect" is the default because photographs have no black or wrapped borders.
    A^T is the base class's autograd adjoint (exact for every padding), A^+ its CG solve."""

    def __init__(self, kernel: torch.Tensor, sigma: float = 0.0, padding: str = "reflect"):
        super().__init__(sigma)
        kernel = torch.as_tensor(kernel, dtype=torch.float32)
        if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
            raise ValueError(f"Blur: the kernel must be 2-D with odd sides, got shape {tuple(kernel.shape)}")
        if not kernel.sum() > 0:
            raise ValueError(f"Blur: the kernel must have a positive sum to be normalised, got {kernel.sum().item():g}")
        if padding not in PADDINGS:
            raise ValueError(f"Blur: padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
        self.padding = padding
        self.register_buffer("kernel", kernel / kernel.sum())

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return kornia.filters.filter2d(x, self.kernel[None], border_type=self.padding, behaviour="conv")


def gaussian_kernel(sigma: float, size: int | None = None) -> torch.Tensor:
    """A (size, size) Gaussian of standard deviation `sigma`; size defaults to 2 * ceil(3 sigma) + 1."""
    if not sigma > 0:
        raise ValueError(f"gaussian_kernel: sigma must be > 0, got {sigma}")
    size = 2 * math.ceil(3 * sigma) + 1 if size is None else size
    if size % 2 == 0:
        raise ValueError(f"gaussian_kernel: size must be odd, got {size}")
    return kornia.filters.get_gaussian_kernel2d((size, size), (float(sigma), float(sigma)))[0]


def motion_kernel(length: int, angle: float) -> torch.Tensor:
    """A (length, length) linear motion blur along `angle` degrees; length odd >= 3."""
    if length < 3 or length % 2 == 0:
        raise ValueError(f"motion_kernel: length must be odd and >= 3, got {length}")
    return kornia.filters.get_motion_kernel2d(length, float(angle))[0]


def kernel_from_image(path: str | Path) -> torch.Tensor:
    """A kernel from a grayscale image, square with an odd side, normalised to sum 1."""
    kernel = load_image(path, channels=1)[0]
    h, w = kernel.shape
    if h != w or h % 2 == 0:
        raise ValueError(f"{path}: a kernel image must be square with an odd side, got {h}x{w}")
    if kernel.sum() == 0:
        raise ValueError(f"{path}: the kernel image is all black")
    return kernel / kernel.sum()


def parse_blur(spec: str, sigma: float = 0.0) -> Blur:
    """The blur named by `spec`: "gaussian:SIGMA", "motion:LENGTH,ANGLE" or a kernel image path."""
    kind, _, args = spec.partition(":")
    try:
        if kind == "gaussian":
            return Blur(gaussian_kernel(float(args)), sigma)
        if kind == "motion":
            length, angle = args.split(",")
            return Blur(motion_kernel(int(length), float(angle)), sigma)
    except ValueError as e:
        raise ValueError(f"blur {spec!r}: {e}; expected {BLUR_FORMS}") from None
    if not Path(spec).is_file():
        raise ValueError(f"blur {spec!r}: no such kernel image; expected {BLUR_FORMS}")
    return Blur(kernel_from_image(spec), sigma)
