"""The linear operator base: y = A x + n, with exact generic adjoint and pseudo-inverse."""
import torch
from torch import nn

from .noise import GaussianNoise


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image inner products, shaped to broadcast against a batch."""
    return (a * b).flatten(1).sum(1).view(-1, *[1] * (a.ndim - 1))


def conjugate_gradient(op, b: torch.Tensor, x0: torch.Tensor, max_iter: int = 100, tol: float = 1e-6) -> torch.Tensor:
    """Solve op(x) = b for a symmetric positive semi-definite `op`, one system per image, from x0;
    stops when every residual is below tol relative to |b|."""
    tiny = torch.finfo(b.dtype).tiny
    x = x0
    r = b - op(x)
    p = r
    rs = _dot(r, r)
    threshold = tol**2 * _dot(b, b)
    for _ in range(max_iter):
        if (rs <= threshold).all():
            break
        Ap = op(p)
        alpha = rs / _dot(p, Ap).clamp_min(tiny)
        x = x + alpha * p
        r = r - alpha * Ap
        rs_new = _dot(r, r)
        p = r + rs_new / rs.clamp_min(tiny) * p
        rs = rs_new
    return x


class LinearPhysics(nn.Module):
    """A linear degradation with deepinv's interface: `A`, `A_adjoint`, `A_dagger`, `noise_model`,
    and `physics(x, generator)` for a noisy measurement. Subclasses define `A` and, where it is
    simple, closed forms of the adjoint and the pseudo-inverse."""

    def __init__(self, sigma: float = 0.0):
        super().__init__()
        self.noise_model = GaussianNoise(sigma)

    @property
    def keeps_pixels(self) -> bool:
        """True when the observed pixels of y equal x exactly, so solvers may paste them back."""
        return False

    def A(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def input_shape(self, y_shape: torch.Size) -> tuple[int, ...]:
        """The shape of x for a measurement of shape `y_shape`: the same unless A resizes."""
        return tuple(y_shape)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """A^T y = grad_x <A x, y>, the vector-Jacobian product of A: exact for any linear A."""
        with torch.enable_grad():
            x = torch.zeros(self.input_shape(y.shape), dtype=y.dtype, device=y.device, requires_grad=True)
            (x_adj,) = torch.autograd.grad(self.A(x), x, grad_outputs=y, create_graph=y.requires_grad)
        return x_adj

    def A_dagger(self, y: torch.Tensor, max_iter: int = 100, tol: float = 1e-6) -> torch.Tensor:
        """A^+ y: the least-squares solution of A^T A x = A^T y by conjugate gradient from A^T y."""
        b = self.A_adjoint(y)
        return conjugate_gradient(lambda x: self.A_adjoint(self.A(x)), b, b, max_iter=max_iter, tol=tol)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.noise_model(self.A(x), generator)
