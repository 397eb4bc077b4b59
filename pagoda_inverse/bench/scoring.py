"""What a benchmark measures: per-image quality scores, counted network evaluations, and the summary
(mean and standard error) of a method's batch records."""
import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from ..metrics import lpips_distance, psnr, ssim

METRICS = ("psnr", "ssim", "lpips_alex", "lpips_vgg")


@dataclass
class EvaluationCount:
    rows: int = 0  # forward passes summed over the batch rows they took: one image through one network is 1


@contextmanager
def count_evaluations(*networks):
    """Count the forward passes of `networks` (None skipped, each counted once) while the block runs:
    a call on a batch of B images adds B. Backward passes are not counted; an optimisation step is
    one evaluation and its gradient.

        with count_evaluations(model.D.net, *model.G.values(), model.classifier) as count:
            restore(model, y, physics)
        count.rows / len(y)  # evaluations per image"""
    count = EvaluationCount()

    def hook(module, args, kwargs):
        x = args[0] if args else next(v for v in kwargs.values() if torch.is_tensor(v))
        count.rows += x.shape[0]

    handles = [net.register_forward_pre_hook(hook, with_kwargs=True)
               for net in dict.fromkeys(n for n in networks if n is not None)]
    try:
        yield count
    finally:
        for h in handles:
            h.remove()


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


def score(x_hat: torch.Tensor, x: torch.Tensor, extras: dict) -> dict:
    """Per-image PSNR, SSIM, LPIPS (AlexNet, VGG); the class hits; and, where a method gives a spread
    map, how well it follows the error (per image, and the sums that pool it over a run)."""
    rec = {"psnr": psnr(x_hat, x).tolist(), "ssim": ssim(x_hat, x).tolist(),
           "lpips_alex": lpips_distance(x_hat, x, "alex").tolist(), "lpips_vgg": lpips_distance(x_hat, x, "vgg").tolist()}
    if "label_correct" in extras:
        rec["label_correct"] = extras["label_correct"]
    std = extras.get("std")
    if std is not None and std.abs().sum() > 0:  # uncertainty: does the spread follow the error?
        err = (x_hat - x).abs()
        rec["uncertainty_corr"] = [pearson(s, e) for s, e in zip(std, err)]
        s, e = std.double(), err.double()
        rec["uncertainty_moments"] = [float(v) for v in (err.numel(), s.sum(), e.sum(), (s ** 2).sum(), (e ** 2).sum(),
                                                         (s * e).sum())]
    return rec


def images_below(rec: dict, n: int) -> dict:
    """A batch record cut to its images below index `n` (its seconds and evaluations in proportion)."""
    k = sum(i < n for i in rec["images"])
    if k == len(rec["images"]) or "error" in rec:
        return rec
    cut = {key: (v[:k] if isinstance(v, list) and len(v) == len(rec["images"]) else v) for key, v in rec.items()}
    cut.pop("uncertainty_moments", None)  # per-batch sums: not divisible
    for key in ("seconds", "evaluations"):
        cut[key] = rec[key] * k / len(rec["images"])
    return cut


def summarise(records: list[dict], first: int | None = None) -> dict:
    """Mean and standard error of every per-image score; seconds and evaluations per image; failures.
    With `first`, over images 0 .. first - 1 of the spec only."""
    if first is not None:
        records = [images_below(r, first) for r in records if r["images"][0] < first]
    ok = [r for r in records if "error" not in r]
    out = {"images": sum(len(r["images"]) for r in ok), "failed_batches": [r for r in records if "error" in r]}
    if not ok:
        return out
    for key in (*METRICS, "label_correct", "uncertainty_corr"):
        v = torch.tensor([x for r in ok for x in r.get(key, [])], dtype=torch.float64)
        v = v[v.isfinite()]
        if len(v):
            out[key] = {"mean": v.mean().item(), "se": (v.std() / math.sqrt(len(v))).item() if len(v) > 1 else 0.0}
    moments = [r["uncertainty_moments"] for r in ok if "uncertainty_moments" in r]
    if moments:  # the pooled per-pixel correlation over all images
        n, sa, sb, saa, sbb, sab = (sum(m[i] for m in moments) for i in range(6))
        cov, va, vb = sab / n - sa * sb / n ** 2, saa / n - (sa / n) ** 2, sbb / n - (sb / n) ** 2
        out["uncertainty_corr_pooled"] = cov / math.sqrt(max(va * vb, 1e-30))
    out["seconds_per_image"] = sum(r["seconds"] for r in ok) / out["images"]
    out["nfe_per_image"] = sum(r["evaluations"] for r in ok) / out["images"]
    return out
