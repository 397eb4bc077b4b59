"""Latent optimisation in PaGoDA's latent space, and the data-consistency step that follows it.

The one-step decoder G makes every iteration one network evaluation and its gradient, against the
hundreds or thousands of a diffusion posterior sampler's.
"""
import math

import torch

from ..physics import Downsampling, conjugate_gradient, task_of
from .settings import LatentSettings


def noise_std(physics) -> float:
    """The measurement noise std of a physics object (this project's or deepinv's)."""
    sigma = getattr(getattr(physics, "noise_model", None), "sigma", 0.0)
    return float(sigma.max()) if torch.is_tensor(sigma) else float(sigma or 0.0)


def select(physics, rows):
    """The operator of images `rows` of the batch (physics.select); deepinv's physics, which have no
    select, serve every image as one operator."""
    return physics.select(rows) if hasattr(physics, "select") else physics


def data_consistency(physics, x_hat: torch.Tensor, y: torch.Tensor, sigma: float, tau: float,
                     iterations: int = 50) -> torch.Tensor:
    """x = argmin |A x - y|^2 / (2 s^2) + |x - x_hat|^2 / (2 tau^2): the decoder's output pulled onto the
    measurement as far as the noise s allows; tau is the decoder's own error. Solved by conjugate
    gradient from x_hat; with s = 0 that is x_hat + A^+ (y - A x_hat) (for inpainting: the observed
    pixels put back). tau = 0 returns x_hat."""
    if tau <= 0:
        return x_hat
    if getattr(physics, "keeps_pixels", False):  # A = A^T A, a projection: A^T y + (I - A^T A) x_hat, exact
        return physics.A_adjoint(y) + (x_hat - physics.A_adjoint_A(x_hat))
    inv_rho = (sigma / tau) ** 2
    b = physics.A_adjoint(y) + inv_rho * x_hat
    x = conjugate_gradient(lambda v: physics.A_adjoint(physics.A(v)) + inv_rho * v, b, x_hat,
                           max_iter=iterations, tol=1e-5)
    return x.clamp(0, 1)


def optimise_latents(decode, physics, y: torch.Tensor, w_init: torch.Tensor, sigma: float, settings: LatentSettings,
                     progress: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Minimise |A(decode(w)) - y|^2 / (2 max(s, floor)^2) + lambda / 2 |w|^2 over w, for each image
    and each of its 1 + restarts chains at once; `decode(w, chains)` maps (K B, ...) latents
    w = z / sigma_max to images in [0, 1] (unclamped, so saturated pixels keep their gradient).

    Chain 0 starts at w_init, chain k at sqrt(1 - a^2) w_init + a eps_k. Returns the outputs of every
    chain after the data-consistency step (K, B, C, H, W), their mean squared data misfit (K, B) and
    their final objective (data + prior terms, (K, B))."""
    from tqdm.auto import tqdm

    B, K = len(y), 1 + settings.restarts
    g = torch.Generator().manual_seed(settings.seed)
    a = settings.restart_mix
    eps = torch.randn((K - 1, *w_init.shape), generator=g).to(w_init)
    w = torch.cat([w_init[None], math.sqrt(1 - a ** 2) * w_init[None] + a * eps]).flatten(0, 1)
    w = w.detach().clone().requires_grad_(True)
    yk = y.repeat(K, *[1] * (y.ndim - 1))
    physics = select(physics, torch.arange(B).repeat(K))  # chain-major rows, as yk
    s2 = max(sigma, settings.noise_floor) ** 2

    def objective(x):
        data = ((physics.A(x) - yk) ** 2).flatten(1).sum(1) / (2 * s2)
        return data + 0.5 * settings.prior * (w ** 2).flatten(1).sum(1)

    if settings.steps:
        opt = torch.optim.Adam([w], lr=settings.lr)
        for i in tqdm(range(settings.steps), disable=not progress, leave=False, desc="optimising"):
            for group in opt.param_groups:  # cosine decay to 0
                group["lr"] = settings.lr * 0.5 * (1 + math.cos(math.pi * i / settings.steps))
            opt.zero_grad(set_to_none=True)
            objective(decode(w, K)).sum().backward()
            opt.step()
    with torch.no_grad():
        x = decode(w, K)
        energy = objective(x).view(K, B)
        x = x.clamp(0, 1)
        misfit = ((physics.A(x) - yk) ** 2).flatten(1).mean(1).view(K, B)
        x = data_consistency(back_projection_operator(physics, settings.back_projection), x, yk, sigma,
                             settings.model_error)
    return x.view(K, B, *x.shape[1:]), misfit, energy


BACK_PROJECTIONS = ("operator", "bicubic")


def back_projection_operator(physics, back_projection: str):
    """The operator of the data-consistency step (LatentSettings.back_projection): `physics` itself,
    or for super-resolution the antialiased bicubic reduction by the same factor, with the same noise."""
    if back_projection == "operator":
        return physics
    if back_projection != "bicubic" or task_of(physics) != "superres":
        raise ValueError(f"back_projection must be one of {', '.join(BACK_PROJECTIONS)} ('bicubic' for "
                         f"super-resolution only), got {back_projection!r} for {task_of(physics)}")
    return Downsampling(physics.factor, noise_std(physics), filter="bicubic")
