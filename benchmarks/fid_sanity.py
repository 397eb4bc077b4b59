"""Sanity of the FID/KID code on the Fashion-MNIST test set.

Half A of the test set (5000 images, fixed split) is scored against half B: clean, blurred at three
levels, noised at three levels, and brought to 16x16 and 8x8. Expected: clean halves near 0, FID
growing monotonically with blur and with noise, each low resolution near 0 against half B at the
same resolution. Writes benchmarks/results/fid_sanity.json and prints a markdown table.

    python benchmarks/fid_sanity.py
"""
import argparse
import json
import time
from pathlib import Path

import kornia
import torch

from pagoda_inverse.checkpoint import file_sha256
from pagoda_inverse.data import downsample, fashion_mnist_32
from pagoda_inverse.diffusion import to_unit_range
from pagoda_inverse.metrics.classifier import JUDGE_RESIZE_RULE, shipped_judge
from pagoda_inverse.metrics.fid import feature_stats, frechet_distance, kernel_distance

OUT = Path(__file__).resolve().parent / "results" / "fid_sanity.json"
BLUR_SIGMAS = (0.5, 1.0, 2.0)  # Gaussian blur, pixels at 32x32
NOISE_SIGMAS = (0.05, 0.1, 0.2)  # additive Gaussian noise on [0, 1] images, then clipped
RESOLUTIONS = (16, 8)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    k = 2 * int(3 * sigma + 0.5) + 1
    return kornia.filters.gaussian_blur2d(x, (k, k), (sigma, sigma), border_type="reflect")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT, help="the results file")
    out = ap.parse_args().out
    torch.set_num_threads(1)
    t0 = time.time()
    judge = shipped_judge()
    x, y = fashion_mnist_32("test")
    x = to_unit_range(x)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    a, b = perm[: len(x) // 2], perm[len(x) // 2:]
    gen = torch.Generator().manual_seed(1)

    # (degradation, level, images from half A, resolution of the half-B reference)
    cases = [("none", "-", x[a], 32)]
    cases += [("blur", f"sigma {s} px", blur(x[a], s), 32) for s in BLUR_SIGMAS]
    cases += [("noise", f"sigma {s}", (x[a] + s * torch.randn(x[a].shape, generator=gen)).clamp(0, 1), 32)
              for s in NOISE_SIGMAS]
    for r in RESOLUTIONS:
        cases += [("downsample", f"to {r}x{r}", downsample(x[a], r), r),
                  ("downsample", f"to {r}x{r}", downsample(x[a], r), 32)]

    reference = {r: judge.features(downsample(x[b], r)) for r in (32, *RESOLUTIONS)}
    rows = []
    for degradation, level, images, ref_res in cases:
        f = judge.features(images)
        kid_mean, kid_std = kernel_distance(f, reference[ref_res])
        rows.append({"degradation": degradation, "level": level, "reference": f"half B at {ref_res}x{ref_res}",
                     "fid": frechet_distance(feature_stats(f), feature_stats(reference[ref_res])),
                     "kid_x1000": 1000 * kid_mean, "kid_std_x1000": 1000 * kid_std,
                     "class_accuracy": judge.class_accuracy(images, y[a])})

    ladders = {kind: [rows[0]["fid"]] + [r["fid"] for r in rows if r["degradation"] == kind] for kind in ("blur", "noise")}
    result = {
        "command": "python benchmarks/fid_sanity.py",
        "classifier": {"weights": judge.path.name, "sha256": file_sha256(judge.path),
                       "test_accuracy": judge.meta["test_accuracy"], "feature_dim": judge.net.feature_dim},
        "split": "Fashion-MNIST test set, random halves A and B of 5000 (torch seed 0)",
        "judge_resize_rule": JUDGE_RESIZE_RULE,
        "kid": "unbiased MMD^2, cubic polynomial kernel, 100 subsets of 1000",
        "rows": rows,
        "monotonic": {kind: all(u < v for u, v in zip(f, f[1:])) for kind, f in ladders.items()},
        "seconds": round(time.time() - t0, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")

    print("| degradation of half A | level | reference | FID | KID x1000 | class accuracy |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['degradation']} | {r['level']} | {r['reference']} | {r['fid']:.3f} | {r['kid_x1000']:.3f} ± {r['kid_std_x1000']:.3f} "
              f"| {r['class_accuracy']:.4f} |")
    print(f"\nmonotonic: {result['monotonic']}; wrote {out}")


if __name__ == "__main__":
    main()
