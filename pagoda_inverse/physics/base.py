"""The linear operator base: y = A x + n, with exact generic adjoint and pseudo-inverse, per-image
parameters, and composition."""
import copy

import torch
from torch import nn

from .noise import GaussianNoise

# deepinv's operators of the same class names serve the same tasks.
DEEPINV_TASKS = {"Downsampling": "superres", "Inpainting": "inpaint", "Blur": "deblur"}


def task_of(physics) -> str:
    """The task whose settings fit `physics`: its own `task`; deepinv's physics by class name; any
    other linear operator "deblur", the general settings."""
    return getattr(physics, "task", None) or DEEPINV_TASKS.get(type(physics).__name__, "deblur")


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image inner products, shaped to broadcast against a batch."""
    return (a * b).flatten(1).sum(1).view(-1, *[1] * (a.ndim - 1))


def conjugate_gradient(op, b: torch.Tensor, x0: torch.Tensor, max_iter: int = 100, tol: float = 1e-6) -> torch.Tensor:
    """Solve op(x) = b for a symmetric positive semi-definite `op`, one system per image, from x0.
    Each image stops on its own, when its residual is below tol relative to its |b| (to its first
    residual where b = 0) or when op has no curvature left along its search direction: its result
    does not depend on the rest of the batch, and a converged image is never divided by ~0."""
    tiny = torch.finfo(b.dtype).tiny
    x = x0
    r = b - op(x)
    p = r
    rs = _dot(r, r)
    threshold = tol**2 * torch.maximum(_dot(b, b), rs)
    done = rs <= threshold
    for _ in range(max_iter):
        if done.all():
            break
        Ap = op(p)
        pAp = _dot(p, Ap)
        done = done | (pAp <= tiny)
        alpha = torch.where(done, 0.0, rs / pAp.clamp_min(tiny))
        x = x + alpha * p
        r = r - alpha * Ap
        rs_new = _dot(r, r)
        p = r + torch.where(done, 0.0, rs_new / rs.clamp_min(tiny)) * p
        rs = rs_new
        done = done | (rs <= threshold)
    return x


class LinearPhysics(nn.Module):
    """A linear degradation with deepinv's interface: `A`, `A_adjoint`, `A_adjoint_A`, `A_dagger`,
    `noise_model`, and `physics(x, generator)` for a noisy measurement. Subclasses define `A` and, where
    it is simple, closed forms of the adjoint and the pseudo-inverse.

    Per-image parameters (`params`: an inpainting mask, a blur kernel) are (B, ...) buffers: batch B
    applies one to each image, batch 1 to all. As in deepinv, parameters given to `A`, `A_adjoint` or
    the call replace the operator's own (`update_parameters`); `select(rows)` is the operator of some
    images of the batch."""

    task = "deblur"  # the settings of any linear operator without a task of its own
    params: tuple[str, ...] = ()

    def __init__(self, sigma: float = 0.0):
        super().__init__()
        self.noise_model = GaussianNoise(sigma)

    @property
    def keeps_pixels(self) -> bool:
        """True when the observed pixels of y equal x exactly, so solvers may paste them back."""
        return False

    def check_parameter(self, name: str, value: torch.Tensor) -> torch.Tensor:
        """`value` as the (B, ...) buffer of parameter `name`; subclasses check and shape it."""
        return value

    def update_parameters(self, **params) -> None:
        """Replace per-image parameters (None leaves one as it is); an unknown name is an error."""
        for name, value in params.items():
            if value is None:
                continue
            if name not in self.params:
                known = ", ".join(self.params) or "none"
                raise ValueError(f"{type(self).__name__}: unknown parameter {name!r}; its parameters: {known}")
            old = getattr(self, name)
            setattr(self, name, self.check_parameter(name, torch.as_tensor(value)).to(old.device))

    def select(self, rows) -> "LinearPhysics":
        """The operator of images `rows` (indices, a list or a slice) of the batch: per-image parameters
        indexed, shared ones (batch 1) kept. The original is left as it was."""
        new = copy.copy(self)
        new._buffers = dict(self._buffers)  # a plain copy would share the buffer dict, and change it
        new._modules = {k: m.select(rows) if isinstance(m, LinearPhysics) else m for k, m in self._modules.items()}
        for name in self.params:
            value = getattr(self, name)
            if value.shape[0] > 1:
                new._buffers[name] = value[torch.as_tensor(rows, device=value.device)
                                           if not isinstance(rows, slice) else rows]
        return new

    def with_parameters(self, **params) -> "LinearPhysics":
        """A copy of the operator with other per-image parameters; the original is left as it was."""
        new = self.select(slice(None))
        new.update_parameters(**params)
        return new

    def pixel_parameters(self, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """The parameters that cover a measurement of `size` (H, W) pixel for pixel (an inpainting
        mask): what tiles of the measurement cut with it."""
        return {name: getattr(self, name) for name in self.params
                if getattr(self, name).ndim == 4 and tuple(getattr(self, name).shape[-2:]) == tuple(size)}

    def A(self, x: torch.Tensor, **params) -> torch.Tensor:
        raise NotImplementedError

    def input_shape(self, y_shape: torch.Size) -> tuple[int, ...]:
        """The shape of x for a measurement of shape `y_shape`: the same unless A resizes."""
        return tuple(y_shape)

    def A_adjoint(self, y: torch.Tensor, **params) -> torch.Tensor:
        """A^T y = grad_x <A x, y>, the vector-Jacobian product of A: exact for any linear A."""
        self.update_parameters(**params)
        with torch.enable_grad():
            x = torch.zeros(self.input_shape(y.shape), dtype=y.dtype, device=y.device, requires_grad=True)
            (x_adj,) = torch.autograd.grad(self.A(x), x, grad_outputs=y, create_graph=y.requires_grad)
        return x_adj

    def A_adjoint_A(self, x: torch.Tensor, **params) -> torch.Tensor:
        """A^T A x, the normal operator; subclasses give closed forms."""
        return self.A_adjoint(self.A(x, **params))

    def A_dagger(self, y: torch.Tensor, max_iter: int = 100, tol: float = 1e-6, **params) -> torch.Tensor:
        """A^+ y: the least-squares solution of A^T A x = A^T y by conjugate gradient from A^T y."""
        b = self.A_adjoint(y, **params)
        return conjugate_gradient(self.A_adjoint_A, b, b, max_iter=max_iter, tol=tol)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, **params) -> torch.Tensor:
        return self.noise_model(self.A(x, **params), generator)

    def __mul__(self, inner: "LinearPhysics") -> "ComposedPhysics":
        """outer * inner = A_outer A_inner: `inner` applies first (Downsampling * Blur: blur, then decimate)."""
        return compose(self, inner)


class ComposedPhysics(LinearPhysics):
    """A = A_outer A_inner, A^T = A_inner^T A_outer^T; the noise is the outer operator's (added last).
    Its task is the general one: neither part's classical restoration fits the product."""

    def __init__(self, outer: LinearPhysics, inner: LinearPhysics):
        super().__init__()
        if inner.noise_model.sigma > 0:
            raise ValueError(f"compose: the noise is added after the outer operator; give the inner one "
                             f"({type(inner).__name__}) sigma 0, not {inner.noise_model.sigma:g}")
        self.outer, self.inner = outer, inner
        self.noise_model = outer.noise_model

    @property
    def params(self) -> tuple[str, ...]:  # each part keeps its own
        return ()

    def update_parameters(self, **params) -> None:
        """Each parameter goes to the part that has it."""
        for name, value in params.items():
            owner = [p for p in (self.outer, self.inner) if name in p.params]
            if not owner:
                raise ValueError(f"compose: no part has the parameter {name!r}")
            for p in owner:
                p.update_parameters(**{name: value})

    def pixel_parameters(self, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        return {}  # a tile of y is not a tile of the inner operator's output

    def A(self, x: torch.Tensor, **params) -> torch.Tensor:
        self.update_parameters(**params)
        return self.outer.A(self.inner.A(x))

    def input_shape(self, y_shape: torch.Size) -> tuple[int, ...]:
        return self.inner.input_shape(self.outer.input_shape(y_shape))

    def A_adjoint(self, y: torch.Tensor, **params) -> torch.Tensor:
        self.update_parameters(**params)
        return self.inner.A_adjoint(self.outer.A_adjoint(y))


def compose(outer: LinearPhysics, inner: LinearPhysics) -> ComposedPhysics:
    """A = A_outer A_inner (`inner` first), as `outer * inner`. deepinv's compose(A_1, A_2) lists the
    operators in the order they apply, A_2 A_1."""
    return ComposedPhysics(outer, inner)
