"""PaGoDA's restoration of y = A x + n: encode a first guess, optimise the latent, enforce the data.

    x_0 = classical restoration of y           (bicubic, biharmonic, Richardson-Lucy, A^+ y)
    w_0 = Enc(x_0) / sigma_max                  (super-resolution encodes y itself: G_k(Enc(y)) is native;
                                                 a noisy y starts the PF-ODE at its noise level)
    w*  = argmin_w |A(G(sigma_max w)) - y|^2 / (2 s^2) + lambda / 2 |w|^2   (1 + restarts chains)
    x   = data_consistency(G(sigma_max w*))

A decoder with residual stages takes y itself as the image its stages refine in super-resolution
(G(z, x_low=y): distill/decoder.py), so only the detail above y's size comes from the latent.

`restore` is the API; `restore_tiled` runs it on an image of any size, tile by tile;
`PaGoDASolver` wraps it as deepinv's `model(y, physics)`.
"""
from dataclasses import dataclass

import torch
from torch import nn

from ..diffusion import to_model_range, to_unit_range
from ..physics import task_of
from .classical import first_guess
from .labels import label_candidates
from .latent import noise_std, optimise_latents, select
from .settings import TaskSettings, task_settings


@dataclass
class Restoration:
    x: torch.Tensor  # (B, C, H, W) in [0, 1]: the best-fitting chain of each image
    std: torch.Tensor  # per-pixel standard deviation over the chains (zeros without restarts)
    labels: torch.Tensor | None  # the class used for each image (given or inferred)
    x_init: torch.Tensor  # the classical restoration the latent started from (super-resolution: bicubic)


def restore(model, y: torch.Tensor, physics, labels=None, settings: TaskSettings | None = None,
            progress: bool = False) -> Restoration:
    """Restore y (B, C, h, w) in [0, 1] measured through `physics`; labels None on a class-conditional
    model are inferred (TaskSettings.label_method, label_candidates; solvers/labels.py)."""
    task = task_of(physics)
    settings = settings or task_settings(task, None, model.task_defaults)
    s = noise_std(physics)
    device = model.device
    y = y.to(device, torch.float32)
    x_init = first_guess(y, physics, settings)
    size = x_init.shape[-1]
    if x_init.shape[-2] != size or size not in model.resolutions:
        raise ValueError(f"the restored image would be {x_init.shape[-1]}x{x_init.shape[-2]}; this model "
                         f"restores square images of {', '.join(map(str, model.resolutions))} px")
    G = model.decoder(size)

    log_p = None
    if not model.num_classes:
        candidates = None
    elif labels is None:  # super-resolution classifies y itself, at the size the teacher and classifier know
        low = y if task == "superres" else None
        candidates, log_p = _infer_labels(model, y.clamp(0, 1) if low is not None else x_init, settings,
                                          settings.label_candidates, low, s)
    else:
        candidates = model.check_labels(labels, len(y))[:, None]
    k = 1 if candidates is None else candidates.shape[1]
    flat_labels = None if candidates is None else candidates.flatten()  # image-major: (B k,)
    rep = lambda t: t.repeat_interleave(k, dim=0)  # noqa: E731 (one row per image and candidate)

    if task == "superres":  # native: encode y itself (box pooling to the teacher's size divides the noise std)
        enc_in, enc_noise = rep(y), s * model.teacher_resolution / y.shape[-1]
    else:
        enc_in, enc_noise = rep(x_init), 0.0
    w_init = model.encode(enc_in, flat_labels, noise_std=enc_noise, noise_start=settings.noise_start) / model.sigma_max

    given = task == "superres" and y.shape[-1] in G.lowres_sizes
    xs, misfits, energies = [], [], []
    b = settings.latent.batch * k
    for i in range(0, len(w_init), b):
        lab = None if flat_labels is None else flat_labels[i:i + b]
        low = to_model_range(rep(y)[i:i + b]) if given else None

        def decode(w, chains, lab=lab, low=low):
            return to_unit_range(G(w * model.sigma_max, None if lab is None else lab.repeat(chains),
                                   None if low is None else low.repeat(chains, 1, 1, 1)))

        rows = torch.arange(len(y), device=device).repeat_interleave(k)[i:i + b]
        x_k, misfit, energy = optimise_latents(decode, select(physics, rows), rep(y)[i:i + b], w_init[i:i + b], s,
                                               settings.latent, progress)
        xs.append(x_k)
        misfits.append(misfit)
        energies.append(energy)
    x_k, misfit, energy = torch.cat(xs, 1), torch.cat(misfits, 1), torch.cat(energies, 1)  # (K, B k, ...), (K, B k)

    # Per image and class: the chain with the best data fit. Per image: the class of the lowest
    # objective at its best chain, minus the classifier's log-probability (weighted); the spread
    # map is over that class's chains.
    K = x_k.shape[0]
    x_k = x_k.view(K, len(y), k, *x_k.shape[2:])
    best_chain = misfit.view(K, len(y), k).argmin(0)  # (B, k)
    score = energy.view(K, len(y), k).gather(0, best_chain[None])[0]
    if log_p is not None:
        score = score - settings.label_log_prob_weight * log_p
    best_class = score.argmin(1)
    i = torch.arange(len(y), device=device)
    x = x_k[best_chain[i, best_class], i, best_class]
    std = x_k[:, i, best_class].std(0, correction=0)
    used = None if candidates is None else candidates[i, best_class]
    if labels is None and used is not None and settings.label_recheck:
        # The restoration is a far better image to classify than the first guess: classify it again
        # and solve again, with that class, the images whose class changed.
        again, _ = _infer_labels(model, x, settings)
        changed = (again[:, 0] != used).nonzero().flatten()
        if len(changed):
            r = restore(model, y[changed], select(physics, changed), again[changed, 0], settings, progress)
            x, std, used = x.clone(), std.clone(), used.clone()
            x[changed], std[changed], used[changed] = r.x, r.std, r.labels
    return Restoration(x, std, used, x_init)


def restore_tiled(model, y: torch.Tensor, physics, labels=None, settings: TaskSettings | None = None,
                  overlap: int | None = None, batch: int = 64, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """restore() for one image (1, C, h, w) of any size: `restore` on overlapping tiles of the size
    the model takes (super-resolution: the teacher's, input side; otherwise the largest decoder's),
    blended (solvers/tiles.py). Returns (x, per-pixel spread) at the restored size; the operator's
    per-pixel parameters (an inpainting mask) are cut into tiles with y."""
    from .tiles import tiled

    task = task_of(physics)
    tile, scale = (model.teacher_resolution, physics.factor) if task == "superres" else (model.resolutions[-1], 1)
    maps = physics.pixel_parameters(y.shape[-2:]) if hasattr(physics, "pixel_parameters") else {}

    def fn(y_t, *maps_t):
        p = physics.with_parameters(**dict(zip(maps, maps_t))) if maps else physics
        lab = None if labels is None else torch.as_tensor(labels).reshape(-1)[:1].expand(len(y_t))  # one class
        r = restore(model, y_t, p, lab, settings)
        return torch.cat([r.x, r.std], 1)

    out = tiled(fn, y, *maps.values(), tile=tile, scale=scale, overlap=overlap, batch=batch, progress=progress)
    return out[:, :y.shape[1]], out[:, y.shape[1]:]


def _infer_labels(model, x, settings: TaskSettings, k: int = 1, y_low=None, s: float = 0.0):
    return label_candidates(model, x, k, settings.label_method, y_low, s, settings.label_teacher_weight,
                            settings.label_teacher_draws, settings.label_shortlist, settings.label_mirror)


class PaGoDASolver(nn.Module):
    """deepinv's solver interface: `solver(y, physics)` returns the restored images. Works with this
    project's operators and with deepinv's physics of the same names (Downsampling, Inpainting, Blur)."""

    def __init__(self, model, labels=None, settings: TaskSettings | None = None):
        super().__init__()
        self.model, self.labels, self.settings = model, labels, settings

    def forward(self, y: torch.Tensor, physics) -> torch.Tensor:
        return restore(self.model, y, physics, self.labels, self.settings).x
