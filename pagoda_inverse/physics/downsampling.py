"""Super-resolution: A is the project's one resampling rule (pagoda_inverse.data.downsample), or an
antialiased bicubic reduction, whose adjoint spreads a residual smoothly instead of over blocks."""
import torch
import torch.nn.functional as F

from ..data import downsample
from .base import LinearPhysics


FILTERS = ("box", "bicubic")


class Downsampling(LinearPhysics):
    """y = downsample(x) to (H / factor, W / factor); H and W must be divisible by `factor`.

    filter "box" (the default) is the project's rule: power-of-two factors are average pooling, with
    closed forms: A^T y is nearest upsampling over factor^2 and, since A A^T = I / factor^2,
    A^+ y = factor^2 A^T y is nearest upsampling, so a back-projection x + A^+ (y - A x) moves each
    factor x factor block by one offset. filter "bicubic" is torch's antialiased bicubic reduction (a
    Keys kernel stretched by `factor`): its A^T spreads each residual over overlapping smooth bumps.
    Other factors and the bicubic filter use the base class's autograd adjoint and CG pseudo-inverse,
    at the input size y's size times `factor`."""

    task = "superres"

    def __init__(self, factor: int, sigma: float = 0.0, filter: str = "box"):
        super().__init__(sigma)
        if int(factor) != factor or factor < 1:
            raise ValueError(f"Downsampling: factor must be a positive integer, got {factor}")
        if filter not in FILTERS:
            raise ValueError(f"Downsampling: filter must be one of {', '.join(FILTERS)}, got {filter!r}")
        self.factor, self.filter = int(factor), filter

    @property
    def is_pooling(self) -> bool:
        """Power-of-two factors of the box filter: downsample is exactly average pooling."""
        return self.filter == "box" and self.factor & (self.factor - 1) == 0

    def A(self, x: torch.Tensor, **params) -> torch.Tensor:
        self.update_parameters(**params)
        h, w = x.shape[-2:]
        if h % self.factor or w % self.factor:
            raise ValueError(f"Downsampling by {self.factor}: the image size {h}x{w} is not divisible by {self.factor}")
        size = (h // self.factor, w // self.factor)
        if self.filter == "bicubic":
            return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
        return downsample(x, size)

    def input_shape(self, y_shape: torch.Size) -> tuple[int, ...]:
        return (*y_shape[:-2], y_shape[-2] * self.factor, y_shape[-1] * self.factor)

    def A_adjoint(self, y: torch.Tensor, **params) -> torch.Tensor:
        if not self.is_pooling:
            return super().A_adjoint(y, **params)
        self.update_parameters(**params)
        return F.interpolate(y, scale_factor=self.factor, mode="nearest") / self.factor**2

    def A_adjoint_A(self, x: torch.Tensor, **params) -> torch.Tensor:
        """Pooling: A^T A x is each factor x factor block's mean, spread over the block, over factor^2."""
        if not self.is_pooling:
            return super().A_adjoint_A(x, **params)
        return F.interpolate(self.A(x, **params), scale_factor=self.factor, mode="nearest") / self.factor**2

    def A_dagger(self, y: torch.Tensor, max_iter: int = 100, tol: float = 1e-6, **params) -> torch.Tensor:
        if not self.is_pooling:
            return super().A_dagger(y, max_iter=max_iter, tol=tol, **params)
        self.update_parameters(**params)
        return F.interpolate(y, scale_factor=self.factor, mode="nearest")
