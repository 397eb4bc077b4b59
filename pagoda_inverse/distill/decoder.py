"""PaGoDA's one-step decoder G(z, y) and its progressive growth (PaGoDA, Kim et al., NeurIPS 2024: stages 2 and 3).

G(z, y) = F_theta(c_in(sigma_max) z, c_noise(sigma_max), y): the teacher's U-Net called at the
constant sigma_max, its raw output taken as the image. Each growth stage appends, between the
U-Net's last feature map and the reused output head, one upsampling residual block and two plain
residual blocks whose residual branches end in zero-initialised convolutions, so a freshly grown
decoder is the nearest-upsampled previous one (up to the head's 3x3 convolution).
"""
import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..diffusion import SIGMA_DATA, SIGMA_MAX, EDMPrecond, precond_coefficients
from ..nets import UNet, UNetConfig
from ..nets.unet import ConditionedSequential, ResBlock


@dataclass
class DecoderConfig:
    model: UNetConfig
    stages: int = 0  # 2x growth stages done: output resolution = model.resolution * 2^stages
    sigma_max: float = SIGMA_MAX
    sigma_data: float = SIGMA_DATA

    def to_dict(self):
        return asdict(self)


def growth_stage(ch: int, emb_dim: int) -> ConditionedSequential:
    """One 2x stage: an upsampling residual block (nearest on both paths) and two plain ones."""
    return ConditionedSequential(ResBlock(ch, ch, emb_dim, up=True), ResBlock(ch, ch, emb_dim),
                                 ResBlock(ch, ch, emb_dim), takes_skip=False)


class Decoder(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
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
        self.stages.append(growth_stage(self.net.out_channels, 4 * self.cfg.model.model_channels))

    def grow(self) -> None:
        """Append one 2x stage (zero-initialised residual branches, no fade-in)."""
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

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        sigma = torch.full((z.shape[0],), self.cfg.sigma_max, device=z.device, dtype=z.dtype)
        _, _, c_in, c_noise = precond_coefficients(sigma, self.cfg.sigma_data)
        emb = self.net.embed(c_noise, labels)
        h = self.net.features(c_in[:, None, None, None] * z, emb)
        for stage in self.stages:
            h = stage(h, emb)
        return self.net.head(h)


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
