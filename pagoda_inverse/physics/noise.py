"""The measurement noise model of every operator."""
import torch
from torch import nn


class GaussianNoise(nn.Module):
    """y + sigma * n, n ~ N(0, I); drawn from `generator` when given, so measurements are reproducible."""

    def __init__(self, sigma: float = 0.0):
        super().__init__()
        if sigma < 0:
            raise ValueError(f"GaussianNoise: sigma must be >= 0, got {sigma}")
        self.sigma = float(sigma)

    def forward(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.sigma == 0:
            return y
        return y + self.sigma * torch.randn(y.shape, generator=generator, dtype=y.dtype, device=y.device)
