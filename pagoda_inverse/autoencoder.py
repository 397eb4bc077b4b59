"""The PaGoDA autoencoder: Enc = the teacher's PF-ODE from data to noise, G_k = the one-step
decoders at the teacher's resolution times 2^k. Images are (B, C, H, W) in [0, 1] throughout.

    model = pagoda_inverse.load("fmnist")
    z = model.encode(x_low, y)                 # x at the teacher's resolution (or larger: downsampled)
    x = model.decode(z, y, resolution=32)      # one network evaluation
    x = model.sample(y, resolution=32, seed=0) # z ~ N(0, sigma_max^2 I), then decode
"""
import copy
from pathlib import Path

import torch
from torch import nn

from . import checkpoint
from .data import downsample
from .diffusion import EDMPrecond, encode, to_model_range, to_unit_range
from .distill.decoder import Decoder, load_decoder
from .distill.latents import file_hash
from .models import MODELS, existing, model_info
from .teacher import load_teacher, resolve


class PaGoDA(nn.Module):
    def __init__(self, D: EDMPrecond, decoders: list[Decoder], levels: int, classifier: nn.Module | None = None,
                 task_defaults: dict | None = None, class_names: tuple[str, ...] | None = None):
        super().__init__()
        self.D = D
        self.levels = levels  # the encoder's Karras levels: those the decoders were trained on
        self.G = nn.ModuleDict({str(G.resolution): G.eval().requires_grad_(False) for G in decoders})
        self.classifier = classifier  # images in [0, 1] -> class logits; infers unknown labels
        # Per task, settings on top of tasks.toml's [TASK] (solvers.task_settings' `defaults`).
        self.task_defaults = task_defaults or {}
        self.class_names = class_names
        self.weights: dict = {}  # the files' short hashes (from_files): what a benchmark's records were computed with

    @property
    def teacher_resolution(self) -> int:
        return self.D.net.cfg.resolution

    @property
    def resolutions(self) -> list[int]:
        return sorted(int(r) for r in self.G)

    @property
    def num_classes(self) -> int:
        return self.D.net.cfg.num_classes

    @property
    def tiles(self) -> bool:
        """Whether images of any size are restored in blended tiles (solvers.restore_tiled): yes for
        unconditional models (photos: texture and structure are local); a class-conditional model's
        images are whole objects of one class, worked at the decoders' square sizes."""
        return not self.num_classes

    @property
    def channels(self) -> int:
        return self.D.net.cfg.channels

    @property
    def sigma_max(self) -> float:
        return self.D.sigma_max

    @property
    def device(self) -> torch.device:
        return next(self.D.parameters()).device

    def check_labels(self, labels, n: int) -> torch.Tensor | None:
        """n class indices, or (n, num_classes) class weights (rows summing to 1: a mixture of classes)."""
        if not self.num_classes:
            return None
        if labels is None:
            raise ValueError(f"this model is class-conditional: give labels in 0..{self.num_classes - 1}")
        y = torch.as_tensor(labels, device=self.device)
        if y.is_floating_point():
            y = y.float().expand(n, -1) if y.ndim == 1 else y.float()
            if y.shape != (n, self.num_classes) or (y.sum(1) - 1).abs().max() > 1e-4:
                raise ValueError(f"class weights must be {n} rows of {self.num_classes} weights summing to 1")
            return y
        y = y.long()
        y = y.expand(n) if y.ndim == 0 else y
        if y.shape != (n,) or y.min() < 0 or y.max() >= self.num_classes:
            raise ValueError(f"labels must be {n} integers in 0..{self.num_classes - 1}")
        return y

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes) of images in [0, 1], from the model's classifier."""
        if self.classifier is None:
            raise ValueError("this model has no classifier to infer labels with: give the labels")
        return self.classifier(x.to(self.device))

    @torch.no_grad()
    def encode(self, x: torch.Tensor, labels=None, levels: int | None = None, noise_std: float = 0.0,
               noise_start: float = 4.0) -> torch.Tensor:
        """z = Enc(x): the PF-ODE from sigma_min to sigma_max (Heun, Karras grid, clamped denoiser).
        Images larger than the teacher's resolution are first brought to it by `data.downsample`.
        For images carrying Gaussian noise of std `noise_std` (in [0, 1] units), the ODE starts at
        sigma = noise_start * 2 noise_std (model units span [-1, 1]) instead of sigma_min."""
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected images (B, {self.channels}, H, W), got {tuple(x.shape)}")
        x = x.to(self.device, torch.float32)
        if x.shape[-1] != self.teacher_resolution or x.shape[-2] != self.teacher_resolution:
            x = downsample(x, self.teacher_resolution)
        sigma_start = noise_start * 2 * noise_std if noise_std > 0 else None
        return encode(self.D, to_model_range(x), self.check_labels(labels, len(x)), levels or self.levels, clamp=True,
                      sigma_start=sigma_start)

    def decoder(self, resolution: int | None = None) -> Decoder:
        resolution = resolution or self.resolutions[-1]
        if str(resolution) not in self.G:
            raise ValueError(f"no decoder for {resolution}x{resolution}; this model decodes to {self.resolutions}")
        return self.G[str(resolution)]

    def decode(self, z: torch.Tensor, labels=None, resolution: int | None = None) -> torch.Tensor:
        """x = G(z, y) at `resolution` (default: the largest), clamped to [0, 1]. Differentiable in z."""
        G = self.decoder(resolution)
        z = z.to(self.device, torch.float32)
        return to_unit_range(G(z, self.check_labels(labels, len(z)))).clamp(0, 1)

    def prior(self, n: int, seed: int | None = 0, temperature: float = 1.0) -> torch.Tensor:
        """z ~ N(0, (temperature sigma_max)^2 I) at the teacher's resolution, reproducible from `seed`.
        PaGoDA samples at temperature 1; lower values move z toward the encoder's narrower latents."""
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        r = self.teacher_resolution
        return (torch.randn(n, self.channels, r, r, generator=g) * temperature * self.sigma_max).to(self.device)

    @torch.no_grad()
    def sample(self, labels=None, resolution: int | None = None, seed: int | None = 0, n: int | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """One-step samples: decode fresh prior noise."""
        n = n or (len(torch.as_tensor(labels).reshape(-1)) if labels is not None else 1)
        return self.decode(self.prior(n, seed, temperature), labels, resolution)


def from_files(teacher: str | Path, decoders: list[str | Path], device: str | torch.device = "cpu",
               classifier: str | Path | None = None, task_defaults: dict | None = None) -> PaGoDA:
    """An autoencoder from a teacher file (or registry name) and decoder files trained from it, and
    optionally a classifier of its classes (a Fashion-MNIST judge checkpoint). Its task defaults are
    `task_defaults` if given, else the [tasks] table of the last decoder's training config."""
    D = load_teacher(teacher, device)
    t_hash = file_hash(resolve(teacher))
    Gs, levels = [], set()
    for path in decoders:
        path = Path(path)
        if not path.exists():
            raise checkpoint.CheckpointError(f"decoder {path} is missing; train it with `pagoda-inverse train decoder`")
        G = load_decoder(path, device)
        if G.meta.get("teacher") != t_hash:
            raise checkpoint.CheckpointError(f"{path} was distilled from another teacher than {teacher}")
        levels.add(G.meta["training"]["config"]["latents"]["levels"])
        Gs.append(G)
    if len(levels) != 1:
        raise checkpoint.CheckpointError(f"the decoders were trained on latents of different level counts {sorted(levels)}")
    if task_defaults is None:
        task_defaults = Gs[-1].meta["training"]["config"].get("tasks", {})
    judge = None
    if classifier is not None:
        from .metrics.classifier import JudgeLogits, load_classifier
        judge = JudgeLogits(load_classifier(classifier)[0])
    teacher_info = MODELS.get(str(teacher))
    class_names = teacher_info.class_names if teacher_info is not None else None
    model = PaGoDA(D, Gs, levels.pop(), judge, task_defaults, class_names).to(device)
    model.weights = {"teacher": t_hash, "decoders": [file_hash(p) for p in decoders],
                     "classifier": None if classifier is None else file_hash(classifier)}
    return model


def load(name: str = "fmnist", device: str | torch.device = "cpu") -> PaGoDA:
    """An autoencoder of the registry by name (models.MODELS), or "TEACHER,DECODER[,DECODER...]": a
    teacher (file or registry name) and decoder files, joined by commas."""
    teacher, *decoders = name.split(",")
    if decoders:
        return from_files(teacher, decoders, device)
    info = model_info(name)
    if info.kind != "autoencoder":
        raise checkpoint.CheckpointError(f"{name} is a teacher, not an autoencoder: give TEACHER,DECODER[,DECODER...] "
                                         f"or one of {', '.join(n for n, m in MODELS.items() if m.kind == 'autoencoder')}")
    files = [existing(path, info) for path in info.files]
    classifier = existing(info.classifier, info) if info.classifier is not None else None
    return from_files(info.teacher, files, device, classifier, copy.deepcopy(info.tasks))
