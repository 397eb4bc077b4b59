"""ADM-style U-Net (Dhariwal & Nichol 2021) as used by EDM: residual blocks with GroupNorm+SiLU and
scale-shift conditioning on a noise+class embedding, self-attention at chosen resolutions.

Labels are int64 class indices; -1 (or labels=None) is the null class used for classifier-free
guidance. The network is split into `features` and `head` so PaGoDA's decoder can grow new
blocks between the two (pagoda_inverse/distill/).
"""
import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class UNetConfig:
    resolution: int = 8
    channels: int = 1  # image channels
    model_channels: int = 64
    channel_mult: list[int] = field(default_factory=lambda: [1, 2])
    num_res_blocks: int = 2
    attn_resolutions: list[int] = field(default_factory=lambda: [4])
    head_channels: int = 32
    dropout: float = 0.1
    num_classes: int = 10  # 0 = unconditional
    fourier_scale: float = 16.0

    def to_dict(self):
        return asdict(self)


def group_norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, ch // 4), ch, eps=1e-6)


def zero_module(m: nn.Module) -> nn.Module:
    for p in m.parameters():
        nn.init.zeros_(p)
    return m


class FourierEmbedding(nn.Module):
    """Random Fourier features of c_noise = ln(sigma)/4 (fixed frequencies, stored as a buffer)."""

    def __init__(self, dim: int, scale: float):
        super().__init__()
        self.register_buffer("freqs", torch.randn(dim // 2) * scale)

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        x = c_noise.float()[:, None] * (2 * math.pi * self.freqs[None])
        return torch.cat([x.cos(), x.sin()], dim=1)


class ResBlock(nn.Module):
    """GN-SiLU-(resample)-conv, scale-shift by the embedding, GN-SiLU-dropout-conv(zero init), plus skip."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, dropout: float = 0.0, up: bool = False, down: bool = False):
        super().__init__()
        self.up, self.down = up, down
        self.norm0 = group_norm(in_ch)
        self.conv0 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.affine = nn.Linear(emb_dim, 2 * out_ch)
        self.norm1 = group_norm(out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = zero_module(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def resample(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.down:
            return F.avg_pool2d(x, 2)
        return x

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv0(self.resample(F.silu(self.norm0(x))))
        scale, shift = self.affine(emb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(self.norm1(h) * (1 + scale) + shift)
        h = self.conv1(self.dropout(h))
        return h + self.skip(self.resample(x))


class AttentionBlock(nn.Module):
    def __init__(self, ch: int, head_channels: int):
        super().__init__()
        self.heads = max(1, ch // head_channels)
        self.norm = group_norm(ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = zero_module(nn.Conv2d(ch, ch, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).transpose(-1, -2).unbind(1)
        a = F.scaled_dot_product_attention(q, k, v)  # (b, heads, hw, c/heads)
        return x + self.proj(a.transpose(-1, -2).reshape(b, c, h, w))


class UNet(nn.Module):
    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        C = cfg.model_channels
        emb_dim = 4 * C
        self.map_noise = FourierEmbedding(C, cfg.fourier_scale)
        self.map_layer = nn.Sequential(nn.Linear(C, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        # num_classes + 1 rows: the last one is the null class (label -1).
        self.map_label = nn.Embedding(cfg.num_classes + 1, emb_dim) if cfg.num_classes else None

        self.conv_in = nn.Conv2d(cfg.channels, C, 3, padding=1)
        self.enc = nn.ModuleList()
        skip_ch = [C]
        ch, res = C, cfg.resolution
        for level, mult in enumerate(cfg.channel_mult):
            if level > 0:
                self.enc.append(ResBlock(ch, ch, emb_dim, cfg.dropout, down=True))
                res //= 2
                skip_ch.append(ch)
            for _ in range(cfg.num_res_blocks):
                blocks = [ResBlock(ch, C * mult, emb_dim, cfg.dropout)]
                ch = C * mult
                if res in cfg.attn_resolutions:
                    blocks.append(AttentionBlock(ch, cfg.head_channels))
                self.enc.append(ConditionedSequential(*blocks))
                skip_ch.append(ch)
        self.mid = ConditionedSequential(ResBlock(ch, ch, emb_dim, cfg.dropout), AttentionBlock(ch, cfg.head_channels),
                                         ResBlock(ch, ch, emb_dim, cfg.dropout))
        self.dec = nn.ModuleList()
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            for _ in range(cfg.num_res_blocks + 1):
                blocks = [ResBlock(ch + skip_ch.pop(), C * mult, emb_dim, cfg.dropout)]
                ch = C * mult
                if res in cfg.attn_resolutions:
                    blocks.append(AttentionBlock(ch, cfg.head_channels))
                self.dec.append(ConditionedSequential(*blocks))
            if level > 0:
                self.dec.append(ConditionedSequential(ResBlock(ch, ch, emb_dim, cfg.dropout, up=True), takes_skip=False))
                res *= 2
        self.out_channels = ch
        self.head = nn.Sequential(group_norm(ch), nn.SiLU(), zero_module(nn.Conv2d(ch, cfg.channels, 3, padding=1)))

    def embed(self, c_noise: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Labels are class indices (-1 or None: the null class) or (B, num_classes) class weights,
        whose embedding is the weighted sum of the class embeddings (interpolating between classes)."""
        emb = self.map_layer(self.map_noise(c_noise))
        if self.map_label is not None:
            if labels is None:
                labels = torch.full((c_noise.shape[0],), -1, dtype=torch.long, device=c_noise.device)
            if labels.is_floating_point():
                emb = emb + labels @ self.map_label.weight[:self.cfg.num_classes]
            else:
                emb = emb + self.map_label(torch.where(labels < 0, self.cfg.num_classes, labels))
        return F.silu(emb)

    def features(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Everything up to the output head: the last feature map at the input resolution."""
        h = self.conv_in(x)
        skips = [h]
        for block in self.enc:
            h = block(h, emb)
            skips.append(h)
        h = self.mid(h, emb)
        for block in self.dec:
            if block.takes_skip:
                h = torch.cat([h, skips.pop()], dim=1)
            h = block(h, emb)
        return h

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, self.embed(c_noise, labels)))


class ConditionedSequential(nn.ModuleList):
    """nn.Sequential for blocks that all take (h, emb): the conditioning embedding is passed to each.
    `takes_skip` marks decoder blocks fed a U-Net skip."""

    def __init__(self, *blocks: nn.Module, takes_skip: bool = True):
        super().__init__(blocks)
        self.takes_skip = takes_skip

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for block in self:
            h = block(h, emb)
        return h
