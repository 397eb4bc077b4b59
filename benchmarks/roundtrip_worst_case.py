"""Why the worst round trips are worst: the lowest-PSNR images of the 40-level round trip among the
first --n test images, re-run without the clamp, with the null label, with 80 and 160 levels, and in
float64. A precision problem would improve in float64; a discretisation (stiff trajectory) problem
improves as the levels grow, ~4x in error per doubling once the steps are small (Heun is second
order). Where along the grid: each Heun step is inverted on its own (float64), and its local error
||step_back(step(x_i)) - x_i|| is reported per step.
What they are: the Fashion-MNIST judge's class of each (32x32 original) next to its label.

    python benchmarks/roundtrip_worst_case.py --out benchmarks/results/teacher_roundtrip_worst_case.json
    python benchmarks/roundtrip_worst_case.py --n 10000 --worst 14 \
        --out benchmarks/results/teacher_roundtrip_worst_case_test_set.json
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from pagoda_inverse.data import downsample, fashion_mnist_32
from pagoda_inverse.diffusion import encoder_sigmas, sample, to_unit_range
from pagoda_inverse.metrics.classifier import shipped_judge
from pagoda_inverse.teacher import load_teacher
from teacher_roundtrip import roundtrip


def roundtrip_psnr(D, x, y, levels=40, clamp=True, batch=500):
    return [v for i in range(0, len(x), batch)
            for v in roundtrip(D, x[i:i + batch], None if y is None else y[i:i + batch], levels, clamp=clamp)[1].tolist()]


def local_errors(D, x, y, levels=40, clamp=True) -> list[list[float]]:
    """Per image, per step i of the encoder's grid: how far inverting that one step lands from x_i."""
    sigmas = encoder_sigmas(levels, D.sigma_min, D.sigma_max).to(x.dtype)
    errors = []
    for i in range(levels - 1):
        x_next = sample(D, x, sigmas[i:i + 2], y, clamp=clamp)
        back = sample(D, x_next, sigmas[i:i + 2].flip(0), y, clamp=clamp)
        errors.append((back - x).flatten(1).norm(dim=1).tolist())
        x = x_next
    return torch.tensor(errors).T.tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="fmnist-teacher")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--worst", type=int, default=8)
    ap.add_argument("--out", default="benchmarks/results/teacher_roundtrip_worst_case.json")
    args = ap.parse_args()
    D = load_teacher(args.model)
    x32, y = fashion_mnist_32("test")
    x, y = downsample(x32[:args.n], D.net.cfg.resolution), y[:args.n]
    p = torch.tensor(roundtrip_psnr(D, x, y))
    idx = p.argsort()[:args.worst]
    xw, yw = x[idx], y[idx]
    judge = shipped_judge()
    result = {"command": "python " + " ".join(sys.argv), "n_images": len(x), "test_index": idx.tolist(),
              "label": yw.tolist(), "judge_class_32px": judge.predict(to_unit_range(x32[idx])).tolist(),
              "judge_accuracy_32px_all_images": judge.class_accuracy(to_unit_range(x32[:args.n]), y),
              "levels40": p[idx].tolist(), "levels40_no_clamp": roundtrip_psnr(D, xw, yw, clamp=False),
              "levels40_null_label": roundtrip_psnr(D, xw, None),
              "levels80": roundtrip_psnr(D, xw, yw, 80), "levels160": roundtrip_psnr(D, xw, yw, 160),
              "levels40_float64": roundtrip_psnr(D.double(), xw.double(), yw)}
    err = torch.tensor(local_errors(D.double(), xw.double(), yw))  # (worst, steps)
    sigmas = encoder_sigmas(40, D.sigma_min, D.sigma_max)
    i = err[0].argmax().item()
    result["local_error_per_step"] = err.tolist()
    result["worst_image_largest_local_error"] = {
        "step": i, "sigma_from": sigmas[i].item(), "sigma_to": sigmas[i + 1].item(), "error": err[0, i].item(),
        "median_of_the_other_images_at_that_step": err[1:, i].median().item()}
    for k, v in result.items():
        print(k, v if k != "local_error_per_step" else "...")
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
