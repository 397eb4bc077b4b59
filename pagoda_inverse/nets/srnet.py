"""The plain super-resolution network a user would otherwise pick: SRResNet
(Ledig et al., 2017) without batch norm, as EDSR (Lim et al., 2017), predicting a residual on
the bicubic upsampling of its input.

    x = bicubic(y) + tail(upsample(body(head(y)) + head(y)))     y in [0, 1], x at `scale` times its size
"""
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SRNetConfig:
    channels: int = 3
    width: int = 64
    blocks: int = 12  # 64 wide, 12 blocks: 1.2M parameters
    scale: int = 4  # a power of 2: one conv + pixel shuffle per factor 2

    def to_dict(self):
        return asdict(self)


class ResBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(width, width, 3, padding=1), nn.Conv2d(width, width, 3, padding=1)

    def forward(self, h):
        return h + self.conv2(F.relu(self.conv1(h)))


class SRNet(nn.Module):
    def __init__(self, cfg: SRNetConfig):
        super().__init__()
        if cfg.scale < 2 or cfg.scale & (cfg.scale - 1):
            raise ValueError(f"SRNet scale must be a power of 2, got {cfg.scale}")
        self.cfg = cfg
        w = cfg.width
        self.head = nn.Conv2d(cfg.channels, w, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(w) for _ in range(cfg.blocks)], nn.Conv2d(w, w, 3, padding=1))
        ups = []
        for _ in range(cfg.scale.bit_length() - 1):
            ups += [nn.Conv2d(w, 4 * w, 3, padding=1), nn.PixelShuffle(2), nn.ReLU()]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(w, cfg.channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)  # starts as bicubic upsampling
        nn.init.zeros_(self.tail.bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) in [0, 1] -> (B, C, scale h, scale w), not clamped (the loss sees the overshoot)."""
        h = self.head(y)
        base = F.interpolate(y, scale_factor=self.cfg.scale, mode="bicubic", align_corners=False)
        return base + self.tail(self.up(self.body(h) + h))


def load_srnet(path, device: str | torch.device = "cpu") -> SRNet:
    """An SRNet file written by `pagoda-inverse train srnet` (kind "srnet"), in eval mode. Never unpickles."""
    from .. import checkpoint
    from ..config import from_dict

    tensors, meta = checkpoint.load(path)
    if meta.get("kind") != "srnet":
        raise checkpoint.CheckpointError(f"{path} holds a {meta.get('kind')!r}, not an SRNet")
    net = SRNet(from_dict(SRNetConfig, meta["config"]))
    net.load_state_dict({k: v.float() for k, v in checkpoint.unprefixed("net", tensors).items()})
    net.meta = meta
    return net.to(device).eval().requires_grad_(False)
