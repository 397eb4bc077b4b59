"""FID and KID of the Fashion-MNIST judge's penultimate features (metrics/classifier.py).

FID (Heusel et al. 2017): |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^(1/2)) of the
feature means and (unbiased) covariances, in float64. tr((S_1 S_2)^(1/2)) is the sum of the
square roots of the eigenvalues of the symmetric PSD matrix S_1^(1/2) S_2 S_1^(1/2), which has the
eigenvalues of S_1 S_2; no scipy.
KID (Binkowski et al. 2018): the unbiased MMD^2 with the cubic kernel k(x, y) = (x.y / d + 1)^3,
averaged over random subsets (100 of 1000 by default, as torch-fidelity and clean-fid do).

A split name as the reference means that split downsampled (data.downsample) to the resolution
of the images scored, so 8x8 samples are compared with the 8x8 test set, both judged after the
classifier's resize rule. Reference features are cached in data.cache_dir(), keyed by split,
resolution and the classifier weights' hash; `recompute=True` rebuilds them.
"""
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import checkpoint
from ..data import downsample, fashion_mnist_32
from ..diffusion import to_unit_range
from ..data.cache import cache_dir as data_cache_dir
from ..data.datasets import fashion_mnist_dir
from .classifier import JUDGE_SIZE, FashionMNISTJudge, shipped_judge

@dataclass
class FeatureStats:
    mu: np.ndarray  # (D,) float64
    sigma: np.ndarray  # (D, D) float64


def feature_stats(features: torch.Tensor | np.ndarray) -> FeatureStats:
    f = np.asarray(features, dtype=np.float64)
    return FeatureStats(f.mean(0), np.cov(f, rowvar=False))


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr((S_1 S_2)^(1/2)) for symmetric PSD S_1, S_2."""
    r = _sqrt_psd(s1)
    m = r @ s2 @ r
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum())


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """Frechet distance of the Gaussians N(mu_a, S_a) and N(mu_b, S_b)."""
    d_mu = a.mu - b.mu
    return float(d_mu @ d_mu + np.trace(a.sigma) + np.trace(b.sigma) - 2 * trace_sqrt_product(a.sigma, b.sigma))


def kernel_distance(f1: torch.Tensor | np.ndarray, f2: torch.Tensor | np.ndarray, num_subsets: int = 100,
                    subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation over subsets of the unbiased MMD^2 (cubic polynomial kernel)."""
    x_all, y_all = np.asarray(f1, dtype=np.float64), np.asarray(f2, dtype=np.float64)
    d = x_all.shape[1]
    m = min(subset_size, len(x_all), len(y_all))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        x = x_all[rng.choice(len(x_all), m, replace=False)]
        y = y_all[rng.choice(len(y_all), m, replace=False)]
        k_xx, k_yy, k_xy = ((p @ q.T / d + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        values.append(within - 2 * k_xy.mean())
    return float(np.mean(values)), float(np.std(values))



def reference_features(split: str = "test", resolution: int = JUDGE_SIZE, judge: FashionMNISTJudge | None = None,
                       data_root: str | None = None, cache_dir: str | Path | None = None, recompute: bool = False) -> torch.Tensor:
    """The judge's features (N, D) of a Fashion-MNIST split brought to `resolution` by the project's
    downsample; cached on disk, keyed by split, resolution, data folder and classifier weights."""
    judge = judge or shipped_judge()
    identity = {"kind": "judge_features", "split": split, "resolution": resolution,
                "data_dir": str(fashion_mnist_dir(data_root).resolve()), "weights_sha256": checkpoint.file_sha256(judge.path)}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(cache_dir or data_cache_dir()) / f"fmnist_{split}_{resolution}px_features_{key}.safetensors"
    if path.exists() and not recompute:
        try:
            tensors, meta = checkpoint.load(path)
            if meta == identity:
                return tensors["features"]
        except checkpoint.CheckpointError:
            pass  # unreadable cache: rebuild it
    x, _ = fashion_mnist_32(split, data_root)
    features = judge.features(downsample(to_unit_range(x), resolution))
    checkpoint.save(path, {"features": features}, identity)
    return features


def _reference(reference: torch.Tensor | str, resolution: int, judge: FashionMNISTJudge) -> torch.Tensor:
    return reference_features(reference, resolution, judge) if isinstance(reference, str) else judge.features(reference)


def fid(images: torch.Tensor, reference: torch.Tensor | str = "test", judge: FashionMNISTJudge | None = None) -> float:
    """FID between images (B, 1, S, S) in [0, 1] and reference images, or a Fashion-MNIST split
    name: that split at the images' resolution S."""
    judge = judge or shipped_judge()
    return frechet_distance(feature_stats(judge.features(images)),
                            feature_stats(_reference(reference, images.shape[-1], judge)))


def kid(images: torch.Tensor, reference: torch.Tensor | str = "test", judge: FashionMNISTJudge | None = None,
        num_subsets: int = 100, subset_size: int = 1000) -> tuple[float, float]:
    """KID (mean, std over subsets) between images (B, 1, S, S) in [0, 1] and a reference, as for `fid`."""
    judge = judge or shipped_judge()
    return kernel_distance(judge.features(images), _reference(reference, images.shape[-1], judge), num_subsets, subset_size)
