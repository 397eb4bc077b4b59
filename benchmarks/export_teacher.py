"""Ship a trained teacher: write its EMA weights in float16 and measure what that costs.

Compares the float32 run output with the float16 export on: the denoiser's outputs over the
sigma grid on test images, the encoder round trip, and the class accuracy (Fashion-MNIST judge)
of Heun samples drawn from the same noise.

    python benchmarks/export_teacher.py runs/teacher_fmnist/final.safetensors \
        --out pagoda_inverse/weights/fmnist_teacher.safetensors
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from pagoda_inverse.data import downsample, fashion_mnist_32
from pagoda_inverse.diffusion import karras_sigmas
from pagoda_inverse.metrics import class_accuracy
from pagoda_inverse.teacher import heun_samples, load_teacher, save_teacher
from teacher_roundtrip import roundtrip


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_model", help="the EMA model a training run wrote (final.safetensors)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=18)
    ap.add_argument("--results", default="benchmarks/results/teacher_export.json")
    args = ap.parse_args()

    D32 = load_teacher(args.run_model)
    save_teacher(args.out, D32, dtype=torch.float16, training=D32.meta.get("training"))
    D16 = load_teacher(args.out)
    x32, y = fashion_mnist_32("test")
    x, y = downsample(x32[:args.n], D32.net.cfg.resolution), y[:args.n]

    rel = []
    torch.manual_seed(0)
    for sigma in karras_sigmas(10, append_zero=False):
        noisy = x + sigma * torch.randn_like(x)
        a, b = D32(noisy, sigma, y), D16(noisy, sigma, y)
        rel.append(((a - b).norm() / a.norm()).item())
    result = {"command": "python " + " ".join(sys.argv), "denoiser_max_relative_difference": max(rel)}
    labels = torch.arange(10).repeat_interleave(args.n // 10)
    for name, D in (("float32", D32), ("float16", D16)):
        p = roundtrip(D, x, y)[1]
        samples = heun_samples(D, labels, args.steps, seed=0)
        result[name] = {"roundtrip_psnr_mean_db": p.mean().item(), "roundtrip_psnr_worst_db": p.min().item(),
                        "heun_sample_class_accuracy": class_accuracy(samples, labels),
                        "file_bytes": Path(args.run_model if name == "float32" else args.out).stat().st_size}
        print(name, result[name])
    Path(args.results).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} and {args.results}")


if __name__ == "__main__":
    main()
