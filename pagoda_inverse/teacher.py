"""The low-resolution diffusion teacher: an ADM U-Net inside EDM's preconditioning.

A teacher file is a checkpoint of kind "teacher": tensors "net/..." of the U-Net and meta
{"config": {"model": UNetConfig, "sigma_data", "sigma_min", "sigma_max"}, ...}.
"""
from pathlib import Path

import torch

from . import checkpoint
from .config import from_dict, to_dict
from .diffusion import SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, EDMPrecond, to_unit_range
from .models import MODELS, existing
from .nets import UNet, UNetConfig


def build_teacher(model_cfg: UNetConfig) -> EDMPrecond:
    return EDMPrecond(UNet(model_cfg), SIGMA_DATA, SIGMA_MIN, SIGMA_MAX)


def teacher_meta(D: EDMPrecond, **extra) -> dict:
    return {"kind": "teacher", "config": {"model": to_dict(D.net.cfg), "sigma_data": D.sigma_data,
                                          "sigma_min": D.sigma_min, "sigma_max": D.sigma_max}, **extra}


def save_teacher(path: str | Path, D: EDMPrecond, dtype: torch.dtype = torch.float32, **extra) -> None:
    tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in D.net.state_dict().items()}
    checkpoint.save(path, checkpoint.prefixed("net", tensors), teacher_meta(D, **extra))


def resolve(name_or_path: str | Path) -> Path:
    """A teacher's registry name (models.MODELS) or a path to a .safetensors file."""
    info = MODELS.get(str(name_or_path))
    if info is None:
        return Path(name_or_path)
    if info.kind != "teacher":
        raise checkpoint.CheckpointError(f"{info.name} is an autoencoder, not a teacher; its teacher is {info.teacher}")
    return existing(info.files[0], info)


def load_teacher(name_or_path: str | Path = "fmnist-teacher", device: str | torch.device = "cpu") -> EDMPrecond:
    """Load a teacher (always in float32, eval mode). Never unpickles."""
    path = resolve(name_or_path)
    tensors, meta = checkpoint.load(path)
    if meta.get("kind") != "teacher":
        raise checkpoint.CheckpointError(f"{path} holds a {meta.get('kind')!r}, not a teacher")
    cfg = meta["config"]
    D = EDMPrecond(UNet(from_dict(UNetConfig, cfg["model"])), cfg["sigma_data"], cfg["sigma_min"], cfg["sigma_max"])
    D.net.load_state_dict({k: v.float() for k, v in checkpoint.unprefixed("net", tensors).items()})
    D.meta = meta
    return D.to(device).eval().requires_grad_(False)


@torch.no_grad()
def heun_samples(D: EDMPrecond, labels: torch.Tensor | None, num_steps: int = 18, guidance: float = 1.0,
                 seed: int = 0, batch: int | None = None, progress: bool = False) -> torch.Tensor:
    """Teacher samples in [0, 1]: z ~ N(0, sigma_max^2 I) from `seed`, Heun on the Karras grid
    of num_steps levels (2 num_steps - 1 network evaluations)."""
    from .diffusion import karras_sigmas, sample

    res, ch = D.net.cfg.resolution, D.net.cfg.channels
    n = labels.shape[0] if labels is not None else (batch or 1)
    device = next(D.parameters()).device
    z = torch.randn(n, ch, res, res, generator=torch.Generator().manual_seed(seed)).to(device) * D.sigma_max
    sigmas = karras_sigmas(num_steps, D.sigma_min, D.sigma_max, device=device)
    x = sample(D, z, sigmas, labels.to(device) if labels is not None else None, guidance, progress=progress)
    return to_unit_range(x).clamp(0, 1)
