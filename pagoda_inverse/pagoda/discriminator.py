"""Class-conditional projection discriminator (Miyato & Koyama 2018) with spectral normalisation,
and the hinge losses. A fresh one is built for each growth stage, for that stage's resolution."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _sn(module: nn.Module, on: bool) -> nn.Module:
    return spectral_norm(module) if on else module


class DBlock(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool, spectral: bool = True):
        super().__init__()
        self.conv0 = _sn(nn.Conv2d(cin, cout, 3, padding=1), spectral)
        self.conv1 = _sn(nn.Conv2d(cout, cout, 3, padding=1), spectral)
        self.skip = _sn(nn.Conv2d(cin, cout, 1), spectral)
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.conv0(F.leaky_relu(x, 0.2)), 0.2))
        s = self.skip(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class ProjectionDiscriminator(nn.Module):
    """Residual blocks halving the image down to 4x4, sum pooling, a linear score plus <embed(y), h>."""

    def __init__(self, resolution: int, channels: int = 1, width: int = 64, num_classes: int = 10,
                 spectral: bool = True):
        super().__init__()
        blocks, ch, res = [], channels, resolution
        mult = 1
        while res > 4:
            blocks.append(DBlock(ch, width * mult, down=True, spectral=spectral))
            ch, res, mult = width * mult, res // 2, min(mult * 2, 4)
        blocks.append(DBlock(ch, width * mult, down=False, spectral=spectral))
        self.blocks = nn.Sequential(*blocks)
        self.out = _sn(nn.Linear(width * mult, 1), spectral)
        self.embed = _sn(nn.Embedding(num_classes, width * mult), spectral) if num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = F.leaky_relu(self.blocks(x), 0.2).sum(dim=(2, 3))
        score = self.out(h).squeeze(1)
        if self.embed is not None and labels is not None:
            score = score + (self.embed(labels) * h).sum(1)
        return score


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()
