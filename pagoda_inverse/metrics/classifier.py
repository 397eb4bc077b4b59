"""The project's Fashion-MNIST judge: a small VGG-style CNN whose penultimate features give FID
and KID and whose predictions give the class accuracy of class-conditional samples.

Input rule (JUDGE_RESIZE_RULE): images (B, 1, S, S) in [0, 1] at any square size; under 32 px
they are upsampled bilinearly (align_corners=False), over 32 px they go through the project's
`data.downsample`, so 8x8 and 16x16 samples are judged at the classifier's 32x32 (Fashion-MNIST
28x28 zero-padded by 2 px). It is trained on images passed through this rule from 16x16 and 8x8
as well (train/classifier.py); its test accuracy at each resolution is in the checkpoint's meta.
"""
import functools
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import checkpoint
from ..data import downsample
from ..diffusion import to_model_range
from ..models import MODELS

JUDGE_SIZE = 32
JUDGE_RESIZE_RULE = (f"to {JUDGE_SIZE}x{JUDGE_SIZE}: bilinear upsampling (align_corners=False) from smaller sizes, "
                     "the project's downsample from larger ones")
SHIPPED_WEIGHTS = MODELS["fmnist"].classifier
CHECKPOINT_KIND = "fmnist_classifier"


def _block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 conv-BN-ReLU layers, then 2x2 max-pooling."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.MaxPool2d(2))


class FashionMNISTNet(nn.Module):
    """32x32 -> three conv blocks (width, 2 width, 4 width channels; 32 -> 4 px) -> flatten ->
    fully connected, standardized `feature_dim` features (the penultimate layer FID uses) -> 10 logits."""

    def __init__(self, width: int = 24, feature_dim: int = 128, num_classes: int = 10):
        super().__init__()
        self.feature_dim = feature_dim
        # Standardized (BatchNorm without affine) before the ReLU, so that x.y / d stays of order 1 in
        # KID's kernel (x.y / d + 1)^3: unstandardized it reached ~10 and the spread over KID's
        # subsets swamped its mean.
        self.trunk = nn.Sequential(_block(1, width), _block(width, 2 * width), _block(2 * width, 4 * width), nn.Flatten(),
                                   nn.Linear(4 * width * (JUDGE_SIZE // 8) ** 2, feature_dim, bias=False),
                                   nn.BatchNorm1d(feature_dim, affine=False), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(feature_dim, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, feature_dim) of images (B, 1, 32, 32) in [0, 1]."""
        return self.trunk(to_model_range(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def to_judge_size(x: torch.Tensor) -> torch.Tensor:
    """Apply JUDGE_RESIZE_RULE to (B, 1, S, S) images in [0, 1]."""
    if x.ndim != 4 or x.shape[1] != 1 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"the Fashion-MNIST judge wants square grayscale images (B, 1, S, S), got {tuple(x.shape)}")
    size = x.shape[-1]
    if size < JUDGE_SIZE:
        return F.interpolate(x, size=(JUDGE_SIZE, JUDGE_SIZE), mode="bilinear", align_corners=False)
    if size > JUDGE_SIZE:
        return downsample(x, JUDGE_SIZE)
    return x


class JudgeLogits(nn.Module):
    """The judge's class logits for square grayscale images of any size (JUDGE_RESIZE_RULE first)."""

    def __init__(self, net: FashionMNISTNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(to_judge_size(x))


def load_classifier(path: str | Path = SHIPPED_WEIGHTS, device: str = "cpu") -> tuple[FashionMNISTNet, dict]:
    """The network (eval mode, float32) from a checkpoint written by train/classifier.py, and its meta."""
    tensors, meta = checkpoint.load(path)
    if meta.get("kind") != CHECKPOINT_KIND:
        raise checkpoint.CheckpointError(f"{path} holds a {meta.get('kind')!r}, not a {CHECKPOINT_KIND}")
    net = FashionMNISTNet(meta["config"]["width"], meta["config"]["feature_dim"])
    state = {k: v.float() if v.is_floating_point() else v for k, v in checkpoint.unprefixed("net", tensors).items()}
    net.load_state_dict(state)
    return net.eval().requires_grad_(False).to(device), meta


class FashionMNISTJudge:
    """Features and predictions of the shipped classifier for images (B, 1, S, S) in [0, 1]."""

    def __init__(self, path: str | Path = SHIPPED_WEIGHTS, device: str = "cpu", batch_size: int = 500):
        self.path = Path(path)
        self.net, self.meta = load_classifier(path, device)
        self.device = device
        self.batch_size = batch_size

    def _batched(self, fn, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([fn(to_judge_size(images[i:i + self.batch_size].float().to(self.device))).cpu()
                              for i in range(0, len(images), self.batch_size)])

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self._batched(self.net.features, images)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self._batched(self.net, images).argmax(1)

    def class_accuracy(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        """Fraction of images the classifier assigns to the class they were generated for."""
        return (self.predict(images) == labels.cpu()).sum().item() / len(labels)


@functools.lru_cache(maxsize=None)
def shipped_judge(device: str = "cpu") -> FashionMNISTJudge:
    return FashionMNISTJudge(SHIPPED_WEIGHTS, device)


def class_accuracy(images: torch.Tensor, labels: torch.Tensor) -> float:
    """Class accuracy of class-conditional samples (B, 1, S, S) in [0, 1] under the shipped judge."""
    return shipped_judge().class_accuracy(images, labels)
