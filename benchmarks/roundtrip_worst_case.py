"""Why the worst round trips are worst: the 8 lowest-PSNR test images of the 40-level round trip,
re-run without the clamp, with 80 and 160 levels, and in float64. A precision problem would
improve in float64; a discretisation (stiff trajectory) problem improves ~4x in error per
doubling of the levels (Heun is second order).

    python benchmarks/roundtrip_worst_case.py --out benchmarks/results/teacher_roundtrip_worst_case.json
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from pagoda_inverse.data import downsample, fashion_mnist_32
from pagoda_inverse.teacher import load_teacher
from teacher_roundtrip import roundtrip


def roundtrip_psnr(D, x, y, levels=40, clamp=True):
    return roundtrip(D, x, y, levels, clamp=clamp)[1].tolist()


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
    result = {"command": "python " + " ".join(sys.argv), "test_index": idx.tolist(), "label": yw.tolist(),
              "levels40": p[idx].tolist(), "levels40_no_clamp": roundtrip_psnr(D, xw, yw, clamp=False),
              "levels80": roundtrip_psnr(D, xw, yw, 80), "levels160": roundtrip_psnr(D, xw, yw, 160),
              "levels40_float64": roundtrip_psnr(D.double(), xw.double(), yw)}
    for k, v in result.items():
        print(k, v)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
