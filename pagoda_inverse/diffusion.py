"""The EDM diffusion core (Karras et al., NeurIPS 2022), variance exploding, images in [-1, 1].

x_sigma = x + sigma * eps. The denoiser D(x; sigma, y) is a preconditioned network; its
probability-flow ODE dx/dsigma = (x - D(x; sigma, y)) / sigma maps data to noise and back.
PaGoDA's encoder is that ODE integrated from sigma_min up to sigma_max.
"""
import torch
from torch import nn

SIGMA_MIN = 0.002
SIGMA_MAX = 80.0
SIGMA_DATA = 0.5
RHO = 7.0


def to_model_range(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] (the API's and the metrics' units) -> [-1, 1] (the networks' and datasets')."""
    return x * 2 - 1


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> [0, 1]: the inverse of `to_model_range` (no clamp)."""
    return (x + 1) / 2


def precond_coefficients(sigma: torch.Tensor, sigma_data: float = SIGMA_DATA):
    """c_skip, c_out, c_in, c_noise of EDM Table 1."""
    c_skip = sigma_data ** 2 / (sigma ** 2 + sigma_data ** 2)
    c_out = sigma * sigma_data / (sigma ** 2 + sigma_data ** 2).sqrt()
    c_in = 1 / (sigma_data ** 2 + sigma ** 2).sqrt()
    c_noise = sigma.log() / 4
    return c_skip, c_out, c_in, c_noise


class EDMPrecond(nn.Module):
    """D(x; sigma, y) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x; c_noise(sigma), y)  (EDM eq. 7)."""

    def __init__(self, net: nn.Module, sigma_data: float = SIGMA_DATA,
                 sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX):
        super().__init__()
        self.net, self.sigma_data, self.sigma_min, self.sigma_max = net, sigma_data, sigma_min, sigma_max

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, labels: torch.Tensor | None = None) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1).expand(x.shape[0], 1, 1, 1)
        c_skip, c_out, c_in, c_noise = precond_coefficients(sigma, self.sigma_data)
        F_x = self.net(c_in * x, c_noise.flatten(), labels)
        return c_skip * x + c_out * F_x


def edm_loss(D: nn.Module, x: torch.Tensor, labels: torch.Tensor | None, P_mean: float = -1.2, P_std: float = 1.2, sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    """EDM training loss (eq. 8): ln sigma ~ N(P_mean, P_std^2), lambda = (sigma^2 + sd^2) / (sigma sd)^2."""
    rnd = torch.randn(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)
    sigma = (rnd * P_std + P_mean).exp()
    weight = (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2
    n = torch.randn_like(x) * sigma
    return (weight * (D(x + n, sigma, labels) - x) ** 2).mean()


def karras_sigmas(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = RHO,
                  append_zero: bool = True, device=None) -> torch.Tensor:
    """Descending noise levels sigma_i = (smax^(1/rho) + i/(n-1) (smin^(1/rho) - smax^(1/rho)))^rho (EDM eq. 5)."""
    if n < 2:
        raise ValueError("karras_sigmas needs at least 2 levels")
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    sigmas = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    if append_zero:
        sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
    return sigmas.to(device=device, dtype=torch.float32)


def guided_denoiser(D: nn.Module, x: torch.Tensor, sigma, labels: torch.Tensor | None, guidance: float = 1.0,
                    clamp: bool = False) -> torch.Tensor:
    """D(x; sigma, null) + w (D(x; sigma, y) - D(x; sigma, null)) (classifier-free guidance), optionally clamped."""
    if labels is None or guidance == 1.0:
        out = D(x, sigma, labels)
    else:
        both = D(torch.cat([x, x]), sigma, torch.cat([labels, torch.full_like(labels, -1)]))
        cond, uncond = both.chunk(2)
        out = uncond + guidance * (cond - uncond)
    return out.clamp(-1, 1) if clamp else out


@torch.no_grad()
def sample(D: nn.Module, x: torch.Tensor, sigmas: torch.Tensor, labels: torch.Tensor | None = None,
           guidance: float = 1.0, clamp: bool = False, progress: bool = False, callback=None) -> torch.Tensor:
    """Integrate the PF-ODE dx/dsigma = (x - D)/sigma with Heun's method along `sigmas` (EDM Algorithm 1).

    `sigmas` may be descending (noise -> data; a final 0 makes the last step Euler) or ascending
    (data -> noise: the encoder). x is the state at sigmas[0]; the state at sigmas[-1] is returned.
    """
    from tqdm.auto import tqdm

    def d(x_, s_):
        return (x_ - guided_denoiser(D, x_, s_, labels, guidance, clamp)) / s_

    sigmas = sigmas.to(x.device)
    for i in tqdm(range(len(sigmas) - 1), disable=not progress, leave=False):
        s_cur, s_next = sigmas[i], sigmas[i + 1]
        d_cur = d(x, s_cur)
        x_next = x + (s_next - s_cur) * d_cur
        if s_next > 0:  # 2nd-order correction (trapezoid rule)
            d_prime = d(x_next, s_next)
            x_next = x + (s_next - s_cur) * (0.5 * d_cur + 0.5 * d_prime)
        x = x_next
        if callback is not None:
            callback({"i": i, "x": x, "sigma": s_next})
    return x


def encoder_sigmas(num_levels: int = 40, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
                   rho: float = RHO, device=None, sigma_start: float | None = None) -> torch.Tensor:
    """The encoder's ascending grid: the Karras levels without the final 0, reversed. With
    `sigma_start`, the grid starts there and keeps only the levels above it."""
    sigmas = karras_sigmas(num_levels, sigma_min, sigma_max, rho, append_zero=False, device=device).flip(0)
    if sigma_start is not None and sigma_start > sigma_min:
        if sigma_start >= sigma_max:
            raise ValueError(f"sigma_start {sigma_start} must be below sigma_max {sigma_max}")
        sigmas = torch.cat([sigmas.new_tensor([sigma_start]), sigmas[sigmas > sigma_start]])
    return sigmas


@torch.no_grad()
def encode(D: nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None, num_levels: int = 40,
           guidance: float = 1.0, clamp: bool = True, progress: bool = False,
           sigma_start: float | None = None) -> torch.Tensor:
    """PaGoDA's deterministic encoder ("DDIM inversion"): the PF-ODE from sigma_min (the clean
    image x is the state there) up to sigma_max, Heun steps on the Karras grid, D clamped to [-1, 1].
    Returns z, roughly N(0, sigma_max^2 I).

    A noisy image x + n, n ~ N(0, s^2 I), is a point of the diffusion at sigma = s rather than at
    sigma_min: `sigma_start` (a few times s, in model units) starts the ODE there, so the noise is
    carried by the trajectory instead of being encoded as image content."""
    return sample(D, x, encoder_sigmas(num_levels, D.sigma_min, D.sigma_max, device=x.device, sigma_start=sigma_start),
                  labels, guidance, clamp, progress)


@torch.no_grad()
def decode_ode(D: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None, num_levels: int = 40,
               guidance: float = 1.0, clamp: bool = True, progress: bool = False) -> torch.Tensor:
    """The inverse of `encode`: the same grid walked back from sigma_max to sigma_min."""
    return sample(D, z, encoder_sigmas(num_levels, D.sigma_min, D.sigma_max, device=z.device).flip(0),
                  labels, guidance, clamp, progress)

