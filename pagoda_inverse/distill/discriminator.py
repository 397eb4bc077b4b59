"""The decoder's discriminators: class-conditional by projection (Miyato & Koyama 2018), spectral
normalisation. A fresh one is built for each growth stage. Their losses are in loss.py.

Two architectures (config `disc.architecture`):
- "residual", `PixelDiscriminator`: residual blocks trained from scratch on the pixels;
- "projected", `FrozenFeatureDiscriminator`: the Projected GAN design (Sauer et al. 2021) that PaGoDA's
  official code takes from CTM/StyleGAN-XL: small trainable heads on the multi-level features of a
  frozen ImageNet network (there DeiT and EfficientNet; here the LPIPS AlexNet trunk, offline).
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..metrics.lpips import LPIPS_MIN_SIDE, lpips_input, lpips_model


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


class PixelDiscriminator(nn.Module):
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


class FeatureHead(nn.Module):
    """Patch logits on one frozen feature map: 1x1 then 3x3 (spectral-norm) convs, a linear score plus the
    class projection <embed(y), h> at every location, average-pooled to a 3x3 grid of logits so that
    every feature level weighs the same in the loss."""

    def __init__(self, cin: int, width: int, num_classes: int, spectral: bool = True):
        super().__init__()
        self.conv0 = _sn(nn.Conv2d(cin, width, 1), spectral)
        self.conv1 = _sn(nn.Conv2d(width, width, 3, padding=1), spectral)
        self.out = _sn(nn.Conv2d(width, 1, 1), spectral)
        self.embed = _sn(nn.Embedding(num_classes, width), spectral) if num_classes else None

    def forward(self, f: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        h = F.leaky_relu(self.conv1(F.leaky_relu(self.conv0(f), 0.2)), 0.2)
        score = self.out(h).squeeze(1)
        if self.embed is not None and labels is not None:
            score = score + torch.einsum("bchw,bc->bhw", h, self.embed(labels))
        return F.adaptive_avg_pool2d(score[:, None], 3).flatten(1)


class FrozenFeatureDiscriminator(nn.Module):
    """Frozen LPIPS trunk (its ImageNet scaling included) + one FeatureHead per ReLU level.

    Images in [-1, 1] are brought to the trunk by LPIPS_RESIZE_RULE (gray -> 3 channels, bilinear up to
    64 px), as the reconstruction loss's, so one design serves every resolution. Returns (B, 9 x levels)
    patch logits; the hinge losses average over all of them. The trunk is held outside the module's
    parameters: it is neither trained nor saved.
    """

    def __init__(self, channels: int = 1, width: int = 64, num_classes: int = 10, net: str = "alex",
                 spectral: bool = True, device="cpu"):
        super().__init__()
        self._lpips = (lpips_model(net, str(device)),)  # a tuple: not a submodule
        with torch.no_grad():
            feats = self._features(torch.zeros(1, channels, LPIPS_MIN_SIDE, LPIPS_MIN_SIDE, device=device))
        self.heads = nn.ModuleList(FeatureHead(f.shape[1], width, num_classes, spectral) for f in feats)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        model = self._lpips[0]
        return list(model.net(model.scaling_layer(lpips_input(x))))  # lpips_input's resize is range-agnostic

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.cat([head(f, labels) for head, f in zip(self.heads, self._features(x))], dim=1)


ARCHITECTURES = ("residual", "projected")


def make_discriminator(architecture: str, resolution: int, channels: int, width: int, num_classes: int,
                       spectral: bool = True, device="cpu") -> nn.Module:
    """A fresh discriminator for one stage (`resolution` sizes the residual one; the projected one's
    frozen trunk takes any size)."""
    if architecture == "residual":
        return PixelDiscriminator(resolution, channels, width, num_classes, spectral).to(device)
    if architecture == "projected":
        return FrozenFeatureDiscriminator(channels, width, num_classes, "alex", spectral, device).to(device)
    raise ValueError(f"unknown discriminator architecture {architecture!r}; use one of {ARCHITECTURES}")
