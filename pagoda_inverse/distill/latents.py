"""Latent pairs: every training image (and its mirror) encoded once by the teacher's PF-ODE.

The cache is a folder of chunk files in the project's checkpoint format; each chunk records
the teacher's hash and the encoder settings, so a stale cache is refused, and an interrupted
encoding resumes at the first missing chunk. Later stages reuse the latents unchanged.
"""
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import checkpoint
from ..data.cache import cache_dir
from ..diffusion import EDMPrecond, encode


@dataclass
class LatentConfig:
    dir: str | None = None  # the chunks' folder; None: latents/ in data.cache_dir()
    levels: int = 40  # Karras levels of the encoder (2 * (levels - 1) network evaluations)
    mirror: bool = True  # also encode each image's horizontal mirror
    limit: int | None = None  # encode only the first `limit` training images (None: all; a CPU budget option)
    chunk: int = 2000  # images per chunk file
    batch: int = 500
    # How the images reach the teacher's resolution before encoding (data.load_training_data):
    # "downsample" (the teacher's own data) or "mix" (Pillow kernels and mild blur, per image from
    # lowres_seed): a decoder trained on "mix" latents is robust to how a user's image was made.
    lowres: str = "downsample"
    lowres_seed: int = 0


def _identity(cfg: LatentConfig, teacher_hash: str) -> dict:
    """What a chunk must have been encoded with to be reused (a "downsample" cache records no lowres)."""
    mix = {"lowres": cfg.lowres, "lowres_seed": cfg.lowres_seed} if cfg.lowres != "downsample" else {}
    return {"kind": "latents", "teacher": teacher_hash, "levels": cfg.levels, "clamp": True, **mix}


def latent_dir(cfg: LatentConfig) -> Path:
    return Path(cfg.dir) if cfg.dir else cache_dir() / "latents"


def file_hash(path: str | Path) -> str:
    """The short teacher identity recorded in every latent chunk."""
    return checkpoint.file_sha256(path)[:16]


def encode_dataset(D: EDMPrecond, teacher_hash: str, x_low: torch.Tensor, y: torch.Tensor, cfg: LatentConfig,
                   progress: bool = True, rank: int = 0, world: int = 1) -> Path:
    """Encode x_low (N, C, h, w) in [-1, 1] at the teacher's resolution into latent_dir(cfg).

    Under torchrun, rank r encodes chunks r, r + world, ...: a chunk's latents do not depend on
    which process encodes it."""
    from tqdm.auto import tqdm

    out = latent_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    flips = (False, True) if cfg.mirror else (False,)
    n = len(x_low) if cfg.limit is None else min(cfg.limit, len(x_low))
    jobs = [(f, s) for f in flips for s in range(0, n, cfg.chunk)]
    meta_base = _identity(cfg, teacher_hash)
    device = next(D.parameters()).device
    for flip, start in tqdm(jobs[rank::world], disable=not progress, desc="encoding"):
        path = out / f"{'mirror' if flip else 'plain'}-{start:07d}.safetensors"
        idx = torch.arange(start, min(start + cfg.chunk, n))
        if path.exists():
            tensors, meta = checkpoint.load(path)
            if {k: v for k, v in meta.items() if k != "flip"} != meta_base:
                raise checkpoint.CheckpointError(f"{path} was encoded with other settings or another teacher; "
                                                 f"delete {out} to re-encode")
            if torch.equal(tensors["index"], idx):
                continue  # done; a chunk cut short by a smaller `limit` is encoded again below
        zs = []
        for b in range(0, len(idx), cfg.batch):
            i = idx[b:b + cfg.batch]
            xb = x_low[i].to(device)
            zs.append(encode(D, xb.flip(-1) if flip else xb, y[i].to(device), cfg.levels, clamp=True).cpu())
        checkpoint.save(path, {"z": torch.cat(zs), "index": idx}, {**meta_base, "flip": flip})
    return out


def load_latents(cfg: LatentConfig, teacher_hash: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z, index into the dataset, flip flag) of the cached pairs that cfg selects (limit, mirror)."""
    files = sorted(latent_dir(cfg).glob("*.safetensors"))
    if not files:
        raise checkpoint.CheckpointError(f"no latents in {latent_dir(cfg)}: `pagoda-inverse train decoder` encodes them on its first run")
    zs, idx, flips = [], [], []
    for f in files:
        tensors, meta = checkpoint.load(f)
        if {k: v for k, v in meta.items() if k != "flip"} != _identity(cfg, teacher_hash):
            raise checkpoint.CheckpointError(f"{f} was encoded by another teacher, level count or lowres rule; "
                                             f"delete {latent_dir(cfg)} to re-encode")
        if meta["flip"] and not cfg.mirror:
            continue
        keep = tensors["index"] < cfg.limit if cfg.limit is not None else slice(None)
        zs.append(tensors["z"][keep])
        idx.append(tensors["index"][keep])
        flips.append(torch.full_like(idx[-1], int(meta["flip"]), dtype=torch.bool))
    return torch.cat(zs), torch.cat(idx), torch.cat(flips)
