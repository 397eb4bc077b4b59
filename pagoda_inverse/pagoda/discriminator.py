"""Class-conditional projection discriminator (Miyato & Koyama 2018) with spectral normalisation,
and the hinge losses. A fresh one is built for each growth stage, for that stage's resolution."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class DBlock(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool):
        super().__init__()
        self.conv0 = spectral_norm(nn.Conv2d(cin, cout, 3, padding=1))
        self.conv1 = spectral_norm(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = spectral_norm(nn.Conv2d(cin, cout, 1))
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.conv0(F.leaky_relu(x, 0.2)), 0.2))
        s = self.skip(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class ProjectionDiscriminator(nn.Module):
    """Residual blocks halving the image down to 4x4, sum pooling, a linear score plus <embed(y), h>."""

    def __init__(self, resolution: int, channels: int = 1, width: int = 64, num_classes: int = 10):
        super().__init__()
        blocks, ch, res = [], channels, resolution
        mult = 1
        while res > 4:
            blocks.append(DBlock(ch, width * mult, down=True))
            ch, res, mult = width * mult, res // 2, min(mult * 2, 4)
        blocks.append(DBlock(ch, width * mult, down=False))
        self.blocks = nn.Sequential(*blocks)
        self.out = spectral_norm(nn.Linear(width * mult, 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, width * mult)) if num_classes else None

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
