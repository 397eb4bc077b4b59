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
MAX_SIDE = 1023  # a kernel side no image here needs; a typo such as gaussian:1e6 would not fit in memory


class Blur(LinearPhysics):
    """y = k * x with a (k_h, k_w) kernel of odd sides, normalised to sum 1; a (B, 1, k_h, k_w) kernel
    gives each image its own. `padding` is one of PADDINGS; "reflect" is the default because
    photographs have no black or wrapped borders. A^T is the base class's autograd adjoint (exact for
    every padding), A^+ its CG solve."""

    task = "deblur"
    params = ("kernel",)

    def __init__(self, kernel: torch.Tensor, sigma: float = 0.0, padding: str = "reflect"):
        super().__init__(sigma)
        if padding not in PADDINGS:
            raise ValueError(f"Blur: padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
        self.padding = padding
        self.register_buffer("kernel", self.check_parameter("kernel", torch.as_tensor(kernel)))

    def check_parameter(self, name: str, kernel: torch.Tensor) -> torch.Tensor:
        """(k_h, k_w), (1, 1, k_h, k_w) or (B, 1, k_h, k_w) -> (B, 1, k_h, k_w), each normalised to sum 1."""
        kernel = kernel.float()
        kernel = kernel[None, None] if kernel.ndim == 2 else kernel
        if kernel.ndim != 4 or kernel.shape[1] != 1 or kernel.shape[-2] % 2 == 0 or kernel.shape[-1] % 2 == 0:
            raise ValueError(f"Blur: the kernel must be 2-D (or (B, 1, k_h, k_w)) with odd sides, got shape {tuple(kernel.shape)}")
        sums = torch.stack([k.sum() for k in kernel])
        if not (sums > 0).all():
            raise ValueError(f"Blur: the kernel must have a positive sum to be normalised, got {sums.min().item():g}")
        return kernel / sums.view(-1, 1, 1, 1)

    def check_size(self, size: tuple[int, int]) -> None:
        """The padding needs each side longer than half the kernel (reflect; circular: at least half)."""
        (kh, kw), (h, w) = self.kernel.shape[-2:], size
        short = {"reflect": h <= kh // 2 or w <= kw // 2, "circular": h < kh // 2 or w < kw // 2}
        if short.get(self.padding, False):
            raise ValueError(f"Blur: the {kh}x{kw} kernel is too large for the {h}x{w} image with {self.padding} "
                             f"padding; give a kernel of at most {h}x{w}")

    def A(self, x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        self.update_parameters(kernel=kernel)
        self.check_size(x.shape[-2:])
        return kornia.filters.filter2d(x, self.kernel[:, 0], border_type=self.padding, behaviour="conv")


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


def _number(text: str, kind=float):
    try:
        return kind(text)
    except ValueError:
        return None


def parse_blur(spec: str, sigma: float = 0.0, padding: str = "reflect", size: tuple[int, int] | None = None) -> Blur:
    """The blur named by `spec`: "gaussian:SIGMA", "motion:LENGTH,ANGLE" or a kernel image path, no
    larger than an image of `size` (H, W), or than MAX_SIDE; checked before the kernel is built."""
    kind, _, args = spec.partition(":")
    if kind == "gaussian":
        s = _number(args)
        if s is None or not 0 < s < math.inf:
            raise ValueError(f"blur {spec!r}: SIGMA must be a number > 0 (e.g. gaussian:1.5); expected {BLUR_FORMS}")
        side = 2 * math.ceil(3 * s) + 1
    elif kind == "motion":
        parts = args.split(",")
        length, angle = (_number(parts[0], int), _number(parts[1])) if len(parts) == 2 else (None, None)
        if length is None or angle is None or length < 3 or length % 2 == 0:
            raise ValueError(f"blur {spec!r}: motion needs LENGTH,ANGLE, an odd length >= 3 and an angle in degrees "
                             f"(e.g. motion:7,0); expected {BLUR_FORMS}")
        side = length
    elif not Path(spec).is_file():
        raise ValueError(f"blur {spec!r}: no such kernel image; expected {BLUR_FORMS}")
    else:
        kernel = kernel_from_image(spec)
        side = max(kernel.shape)
    limit = MAX_SIDE if size is None else min(size)
    if side > limit:
        where = f"{MAX_SIDE} px, the largest taken" if size is None else f"the {size[0]}x{size[1]} image"
        raise ValueError(f"blur {spec!r}: the {side}x{side} kernel is larger than {where}; give one of at most "
                         f"{limit} px (gaussian: SIGMA <= {(limit - 1) // 2 / 3:.3g})")
    if kind == "gaussian":
        kernel = gaussian_kernel(s)
    elif kind == "motion":
        kernel = motion_kernel(length, angle)
    return Blur(kernel, sigma, padding)
