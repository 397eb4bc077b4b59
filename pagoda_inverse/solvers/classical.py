"""The classical restorations: the baselines of every benchmark and of the CLI's --method, and the
starting points of the latent solver. Interpolation from torch (Lanczos: Pillow), inpainting and
deconvolution from scikit-image, one image and channel at a time. Images (B, C, H, W) in [0, 1] in and out.

CLASSICAL names each method, its task and what it reads from the operator; `classical(name, y,
physics)` runs one, `first_guess(y, physics)` runs the latent solver's start for the operator's task."""
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..data import upsample
from ..physics import task_of

UPSAMPLERS = ("nearest", "bilinear", "bicubic", "lanczos")


def _per_channel(fn, y: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
    """Apply a numpy function (H, W) float64 [, psf] -> (H, W) to every image and channel; `kernel`
    (k_h, k_w) or (B or 1, 1, k_h, k_w) gives image i its psf."""
    psfs = None if kernel is None else kernel.detach().cpu().double().reshape(-1, *kernel.shape[-2:]).numpy()
    out = np.stack([np.stack([fn(c.double().numpy()) if psfs is None else fn(c.double().numpy(), psfs[i % len(psfs)])
                              for c in img]) for i, img in enumerate(y.detach().cpu())])
    return torch.from_numpy(out).float().clamp(0, 1).to(y.device)


def upscale(y: torch.Tensor, factor: int, mode: str = "bicubic") -> torch.Tensor:
    """Nearest, bilinear, bicubic or Lanczos upsampling by `factor` (the super-resolution baselines)."""
    if mode not in UPSAMPLERS:
        raise ValueError(f"unknown upsampler {mode!r}; use one of {UPSAMPLERS}")
    return upsample(y, (y.shape[-2] * factor, y.shape[-1] * factor), mode)


def biharmonic(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """scikit-image's biharmonic inpainting of the pixels where mask == 0 (one mask, or one per image)."""
    from skimage.restoration import inpaint_biharmonic

    holes = (mask.expand_as(y) == 0).cpu().numpy()
    out = np.stack([np.stack([inpaint_biharmonic(c, h) if h.any() else c for c, h in zip(img, hole)])
                    for img, hole in zip(y.detach().cpu().double().numpy(), holes)])
    return torch.from_numpy(out).float().clamp(0, 1).to(y.device)


def richardson_lucy(y: torch.Tensor, kernel: torch.Tensor, iterations: int = 30) -> torch.Tensor:
    """scikit-image's Richardson-Lucy deconvolution (its iteration count is the regulariser); `kernel`
    is one psf or one per image."""
    from skimage.restoration import richardson_lucy as rl

    return _per_channel(lambda c, psf: rl(np.clip(c, 0, 1), psf, num_iter=iterations, clip=True), y, kernel)


def wiener(y: torch.Tensor, kernel: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """scikit-image's unsupervised Wiener-Hunt deconvolution (noise and prior levels estimated by
    its Gibbs sampler, seeded); `kernel` is one psf or one per image."""
    from skimage.restoration import unsupervised_wiener

    return _per_channel(lambda c, psf: unsupervised_wiener(c, psf, rng=seed)[0], y, kernel)


@dataclass(frozen=True)
class ClassicalMethod:
    name: str
    task: str  # the task it serves: "superres", "inpaint" or "deblur"
    reads: str  # the operator's attribute it needs: factor, mask or kernel
    run: Callable[..., torch.Tensor]  # run(y, that attribute, **kw)
    description: str
    options: tuple[str, ...] = ()  # the keywords it takes
    settings: tuple[tuple[str, str], ...] = ()  # (option, TaskSettings field) pairs of its latent-solver start

    def fits(self, physics) -> bool:
        return getattr(physics, self.reads, None) is not None

    def __call__(self, y: torch.Tensor, physics, **kw) -> torch.Tensor:
        unknown = sorted(set(kw) - set(self.options))
        if unknown:
            raise ValueError(f"{self.name}: unknown option{'s' * (len(unknown) > 1)} {', '.join(unknown)}; "
                             f"its options: {', '.join(self.options) or 'none'}")
        if not self.fits(physics):
            raise ValueError(f"{self.name} restores {self.task} measurements: it needs an operator with a "
                             f"{self.reads}, not {type(physics).__name__}")
        return self.run(y, getattr(physics, self.reads), **kw)


CLASSICAL = {m.name: m for m in (
    *(ClassicalMethod(mode, "superres", "factor", lambda y, factor, mode=mode: upscale(y.clamp(0, 1), factor, mode),
                      f"{mode} upsampling") for mode in UPSAMPLERS),
    ClassicalMethod("biharmonic", "inpaint", "mask", biharmonic, "scikit-image's biharmonic inpainting"),
    ClassicalMethod("richardson-lucy", "deblur", "kernel", richardson_lucy,
                    "scikit-image's Richardson-Lucy deconvolution", ("iterations",), (("iterations", "rl_iterations"),)),
    ClassicalMethod("wiener", "deblur", "kernel", wiener, "scikit-image's unsupervised Wiener-Hunt deconvolution",
                    ("seed",)),
)}
FIRST_GUESS = {"superres": "bicubic", "inpaint": "biharmonic", "deblur": "richardson-lucy"}


def classical_key(name: str) -> str:
    """The CLASSICAL key of a method name: "_" reads as "-" (TOML specs write richardson_lucy)."""
    return str(name).replace("_", "-")


def classical(name: str, y: torch.Tensor, physics, **kw) -> torch.Tensor:
    """The classical method `name` (a key of CLASSICAL; "_" reads as "-") on y measured through `physics`;
    `kw` are its options (richardson-lucy: iterations, wiener: seed)."""
    method = CLASSICAL.get(classical_key(name))
    if method is None:
        raise ValueError(f"unknown classical method {name!r}; use one of {', '.join(CLASSICAL)}")
    return method(y, physics, **kw)


def first_guess(y: torch.Tensor, physics, settings) -> torch.Tensor:
    """The starting point of the latent solver: the classical method of the operator's task (bicubic,
    biharmonic, Richardson-Lucy), with its options from TaskSettings `settings`, where the operator has
    what it reads; else the pseudo-inverse A^+ y."""
    method = CLASSICAL[FIRST_GUESS[task_of(physics)]]
    if not method.fits(physics):
        return physics.A_dagger(y).clamp(0, 1)
    return method(y, physics, **{option: getattr(settings, field) for option, field in method.settings})
