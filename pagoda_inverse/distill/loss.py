"""PaGoDA's decoder objective, in one place (PaGoDA, Kim et al., NeurIPS 2024: stages 2 and 3):

    generator:      L = L_rec + lambda * w * L_adv
      L_rec = LPIPS(aug(G(Enc(x), y)), aug(x))                  the same augmentation on both (+ an optional pixel term)
      L_adv = -mean D(aug(G(z', y')), y'),  z' ~ N(0, sigma_max^2 I)   hinge, generator side
      w     = clip(|grad_W L_rec| / (|grad_W L_adv| + 1e-4), w_min, w_max), stop-gradient; W = the last conv
    discriminator:  L_D = mean relu(1 - D(aug(x), y)) + mean relu(1 + D(aug(G(z', y')), y'))

train/decoder.py runs one generator step then one discriminator step, each on its own batch.
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..diffusion import to_unit_range
from ..metrics.lpips import lpips_input
from . import augment


PIXEL_LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss}


@dataclass
class LossConfig:
    lpips_net: str = "alex"
    lpips_pooling: str = "max"  # "avg": the trunk's max pooling averaged, against hatching (metrics.lpips)
    pixel_weight: float = 0.0  # optional pixel term added to LPIPS (off: PaGoDA uses LPIPS only)
    pixel_loss: str = "mse"  # the pixel term: "mse" or "l1" (on [-1, 1])
    adv_weight: float = 0.2  # lambda: 0.2 at the teacher's resolution, 1.0 when growing; 0 = reconstruction only
    adaptive: bool = True  # w = clip(|grad_W L_rec| / (|grad_W L_adv| + 1e-4), 0.01, 10), W = the last conv
    adaptive_min: float = 0.01
    adaptive_max: float = 10.0


def reconstruction_loss(lpips_net, x_hat: torch.Tensor, x: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """L_rec: LPIPS between G(Enc(x)) and x (both in [-1, 1]) under one DiffAugment draw shared by
    both, plus pixel_weight times the pixel loss (MSE or L1) when set."""
    p = augment.draw(len(x), x.shape[-1], device=x.device)
    a_hat, a = augment.apply(x_hat, p), augment.apply(x, p)
    L_rec = lpips_net(lpips_input(to_unit_range(a_hat)), lpips_input(to_unit_range(a)), normalize=True).mean()
    if cfg.pixel_weight:
        L_rec = L_rec + cfg.pixel_weight * PIXEL_LOSSES[cfg.pixel_loss](x_hat, x)
    return L_rec


def hinge_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """L_adv, the generator's hinge loss: -mean D(fake)."""
    return -fake_scores.mean()


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """L_D: mean relu(1 - D(real)) + mean relu(1 + D(fake))."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def adaptive_weight(L_rec: torch.Tensor, L_adv: torch.Tensor, W: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """w = clip(||grad_W L_rec|| / (||grad_W L_adv|| + 1e-4), lo, hi), a constant (stop-gradient)."""
    g_rec = torch.autograd.grad(L_rec, W, retain_graph=True)[0]
    g_adv = torch.autograd.grad(L_adv, W, retain_graph=True)[0]
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(lo, hi).detach()


def generator_loss(L_rec: torch.Tensor, L_adv: torch.Tensor | None, W: torch.Tensor,
                   cfg: LossConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """L = L_rec + lambda w L_adv and the adaptive weight w (None without the adversarial term)."""
    if L_adv is None or not cfg.adv_weight:
        return L_rec, None
    w = adaptive_weight(L_rec, L_adv, W, cfg.adaptive_min, cfg.adaptive_max) if cfg.adaptive else torch.ones(())
    return L_rec + cfg.adv_weight * w * L_adv, w
