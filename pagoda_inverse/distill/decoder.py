"""PaGoDA's one-step decoder G(z, y) and its progressive growth (PaGoDA, Kim et al., NeurIPS 2024: stages 2 and 3).

G(z, y) = F_theta(c_in(sigma_max) z, c_noise(sigma_max), y): the teacher's U-Net called at the
constant sigma_max, its raw output taken as the image. Growth stages come in two forms
(DecoderConfig.stage_form), each with zero-initialised residual branches so that growing starts
from the decoder before it:

- "features" (PaGoDA's): between the U-Net's last feature map and the reused output head, one
  upsampling residual block and two plain ones; a freshly grown decoder is the nearest-upsampled
  previous one (up to the head's 3x3 convolution).
- "residual": each stage refines an image, x_2r = up(x_r) + out(h_2r), up = bicubic, h_2r its
  features (the previous stage's, upsampled, plus the image's); a freshly grown decoder is the
  bicubic-upsampled previous one. The stage's input image can be given instead of decoded
  (forward's x_low): for super-resolution, y is what the stages below should have produced, so the
  stage works on y itself and generation and restoration share one network.
"""
import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..diffusion import SIGMA_DATA, SIGMA_MAX, EDMPrecond, precond_coefficients
from ..nets import UNet, UNetConfig
from ..nets.unet import ConditionedSequential, ResBlock, group_norm, zero_module

STAGE_FORMS = ("features", "residual")


@dataclass
class DecoderConfig:
    model: UNetConfig
    stages: int = 0  # 2x growth stages done: output resolution = model.resolution * 2^stages
    sigma_max: float = SIGMA_MAX
    sigma_data: float = SIGMA_DATA
    stage_form: str = "features"  # STAGE_FORMS: the form of every growth stage

    def to_dict(self):
        return asdict(self)


def growth_stage(ch: int, emb_dim: int) -> ConditionedSequential:
    """One 2x stage: an upsampling residual block (nearest on both paths) and two plain ones."""
    return ConditionedSequential(ResBlock(ch, ch, emb_dim, up=True), ResBlock(ch, ch, emb_dim),
                                 ResBlock(ch, ch, emb_dim), takes_skip=False)


class ResidualStage(nn.Module):
    """One 2x stage of the "residual" form: x_2r = up(x_r) + out(h_2r), with
    h_2r = blocks(upblock(h_r) + inject(up(x_r))) and `out` zero-initialised."""

    def __init__(self, ch: int, emb_dim: int, channels: int):
        super().__init__()
        self.up = ResBlock(ch, ch, emb_dim, up=True)
        self.inject = nn.Conv2d(channels, ch, 3, padding=1)
        self.blocks = ConditionedSequential(ResBlock(ch, ch, emb_dim), ResBlock(ch, ch, emb_dim), takes_skip=False)
        self.out = nn.Sequential(group_norm(ch), nn.SiLU(), zero_module(nn.Conv2d(ch, channels, 3, padding=1)))

    def forward(self, h: torch.Tensor, x: torch.Tensor, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        h = self.blocks(self.up(h, emb) + self.inject(u), emb)
        return h, u + self.out(h)


class Decoder(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        if cfg.stage_form not in STAGE_FORMS:
            raise ValueError(f"stage_form must be one of {STAGE_FORMS}, not {cfg.stage_form!r}")
        self.cfg = cfg
        self.net = UNet(cfg.model)
        self.stages = nn.ModuleList()
        for _ in range(cfg.stages):
            self._append_stage()

    @classmethod
    def from_teacher(cls, D: EDMPrecond) -> "Decoder":
        """G initialised as an exact copy of the teacher's network."""
        dec = cls(DecoderConfig(copy.deepcopy(D.net.cfg), 0, D.sigma_max, D.sigma_data))
        dec.net.load_state_dict(D.net.state_dict())
        return dec

    @property
    def resolution(self) -> int:
        return self.cfg.model.resolution * 2 ** len(self.stages)

    def _append_stage(self) -> None:
        ch, emb_dim = self.net.out_channels, 4 * self.cfg.model.model_channels
        self.stages.append(growth_stage(ch, emb_dim) if self.cfg.stage_form == "features"
                           else ResidualStage(ch, emb_dim, self.cfg.model.channels))

    def grow(self, stage_form: str | None = None) -> None:
        """Append one 2x stage (zero-initialised residual branches, no fade-in), of `stage_form`
        (default: the decoder's; a decoder's stages all have one form)."""
        form = stage_form or self.cfg.stage_form
        if form not in STAGE_FORMS:
            raise ValueError(f"stage_form must be one of {STAGE_FORMS}, not {form!r}")
        if self.stages and form != self.cfg.stage_form:
            raise ValueError(f"this decoder's stages are {self.cfg.stage_form!r}; it cannot grow a {form!r} stage")
        self.cfg.stage_form = form
        p = next(self.parameters())
        self._append_stage()
        self.stages[-1].to(device=p.device, dtype=p.dtype)
        self.cfg.stages = len(self.stages)

    def freeze_for_growth(self, trainable_up_blocks: int = 2) -> None:
        """Freeze embeddings, the U-Net's down path, middle and all but the last `trainable_up_blocks`
        blocks of its up path; the grown stages and the head stay trainable."""
        self.requires_grad_(False)
        for block in list(self.net.dec)[len(self.net.dec) - trainable_up_blocks:]:
            block.requires_grad_(True)
        self.stages.requires_grad_(True)
        self.net.head.requires_grad_(True)

    def set_dropout(self, p: float) -> None:
        """The dropout of every U-Net block (the teacher's by default; it acts only in training)."""
        self.cfg.model.dropout = p
        for m in self.modules():
            if isinstance(m, nn.Dropout):
                m.p = p

    @property
    def output_conv(self) -> nn.Conv2d:
        """The convolution that makes the image (the adaptive GAN weight's W)."""
        return self.stages[-1].out[-1] if self.lowres_sizes else self.net.head[-1]

    @property
    def lowres_sizes(self) -> list[int]:
        """The sizes at which forward's x_low can stand in for the image a stage refines (residual stages)."""
        return [self.cfg.model.resolution * 2 ** k for k in range(len(self.stages))] \
            if self.cfg.stage_form == "residual" else []

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, x_low: torch.Tensor | None = None,
                use_low: torch.Tensor | None = None) -> torch.Tensor:
        """G(z, y) in model units. A "residual" decoder given x_low (B, C, r, r) in model units, r below
        its output resolution, takes x_low as the image at r instead of decoding it (in the rows where
        the bool vector use_low is true: all by default); the stages above refine it."""
        sigma = torch.full((z.shape[0],), self.cfg.sigma_max, device=z.device, dtype=z.dtype)
        _, _, c_in, c_noise = precond_coefficients(sigma, self.cfg.sigma_data)
        emb = self.net.embed(c_noise, labels)
        h = self.net.features(c_in[:, None, None, None] * z, emb)
        if self.cfg.stage_form == "features":
            if x_low is not None:
                raise ValueError("a decoder with 'features' stages decodes z alone: x_low needs 'residual' stages")
            for stage in self.stages:
                h = stage(h, emb)
            return self.net.head(h)
        if x_low is not None and (x_low.shape[-2] != x_low.shape[-1] or x_low.shape[-1] not in self.lowres_sizes):
            raise ValueError(f"x_low must be square, of one of the sizes {self.lowres_sizes}, got {tuple(x_low.shape)}")

        def given(x):  # the image at this resolution: x_low's rows where it is given
            if x_low is None or x_low.shape[-1] != x.shape[-1]:
                return x
            return x_low.to(x) if use_low is None else torch.where(use_low[:, None, None, None], x_low.to(x), x)

        x = given(self.net.head(h))
        for k, stage in enumerate(self.stages):
            h, x = stage(h, x, emb)
            if k + 1 < len(self.stages):
                x = given(x)
        return x


def decoder_checkpoint(G: Decoder, teacher_hash: str, **extra) -> tuple[dict, dict]:
    """The (tensors, meta) to write as a decoder file (checkpoint.save): kind "decoder", its config
    and the teacher it belongs to, plus `extra` (training: the step and the training config)."""
    from .. import checkpoint
    tensors = checkpoint.prefixed("G", G.state_dict())
    return tensors, {"kind": "decoder", "config": G.cfg.to_dict(), "teacher": teacher_hash, **extra}


def load_decoder(path, device="cpu") -> Decoder:
    from .. import checkpoint
    from ..config import from_dict
    tensors, meta = checkpoint.load(path)
    if meta.get("kind") != "decoder":
        raise checkpoint.CheckpointError(f"{path} holds a {meta.get('kind')!r}, not a decoder")
    cfg = dict(meta["config"])
    cfg["model"] = from_dict(UNetConfig, cfg["model"])
    G = Decoder(DecoderConfig(**cfg))
    G.load_state_dict({k: v.float() for k, v in checkpoint.unprefixed("G", tensors).items()})
    G.meta = meta
    return G.to(device)
