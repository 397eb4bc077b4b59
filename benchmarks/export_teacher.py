"""Ship a trained teacher: write its EMA weights in float16 and measure what that costs.

Compares the float32 run output with the float16 export on held-out images at the teacher's
resolution (Fashion-MNIST: the test set; photos: patches of the four validation photos): the
denoiser's outputs over the sigma grid, the encoder round trip and the latent statistics, and for a
class-conditional teacher the class accuracy and FID (Fashion-MNIST judge, FID against the test set
at the teacher's resolution) of --n Heun samples from the same noise. With --metrics it also writes
the shipped file's metrics: the run's training log summarised (steps, images, loss curve, images/s,
wall time) beside these measurements.

    python benchmarks/export_teacher.py runs/teacher_fmnist/final.safetensors \
        --out pagoda_inverse/weights/fmnist_teacher.safetensors
    python benchmarks/export_teacher.py runs/teacher_photo/final.safetensors \
        --out pagoda_inverse/weights/photo_teacher.safetensors --results benchmarks/results/teacher_photo_export.json \
        --metrics pagoda_inverse/weights/photo_teacher.metrics.json --samples docs/photo_teacher_samples.png \
        --train-command "pagoda-inverse train teacher --config pagoda_inverse/configs/teacher_photo.toml"
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from pagoda_inverse.data import downsample, fashion_mnist_32, make_grid, save_image
from pagoda_inverse.diffusion import karras_sigmas
from pagoda_inverse.metrics import class_accuracy, fid
from pagoda_inverse.teacher import heun_samples, load_teacher, save_teacher
from teacher_roundtrip import latent_stats, roundtrip


def held_out(D, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n held-out images in [-1, 1] at the teacher's resolution (and labels for a conditional teacher)."""
    dataset = D.meta.get("training", {}).get("config", {}).get("data", {}).get("dataset", "fashion_mnist")
    res = D.net.cfg.resolution
    if dataset == "photos":
        from pagoda_inverse.data.photos import validation_patches
        return downsample(validation_patches(n).float() / 127.5 - 1, res), None
    x32, y = fashion_mnist_32("test")
    return downsample(x32[:n], res), y[:n]


def training_summary(run_dir: Path) -> dict:
    """The run's log.jsonl in numbers: steps, images, loss every 10% of the run, images/s, wall time."""
    rows = [json.loads(r) for r in (run_dir / "log.jsonl").read_text().splitlines() if r]
    steps = rows[-1]["step"]
    marks = {round(steps * k / 10) for k in range(1, 11)}
    return {"steps": steps, "kimg": rows[-1]["kimg"],
            "loss_curve": {r["step"]: round(r["loss"], 4) for r in rows if r["step"] in marks},
            "final_loss_mean_last_10_rows": statistics.fmean(r["loss"] for r in rows[-10:]),
            "images_per_s_median": statistics.median(r["images_per_s"] for r in rows),
            # at the median speed: the wall clock of the parts also counts the pauses (tests run beside it)
            "hours_at_median_speed": rows[-1]["kimg"] * 1000 / statistics.median(r["images_per_s"] for r in rows) / 3600,
            "wall_hours_sum_of_parts": sum(r["elapsed_s"] for i, r in enumerate(rows)
                                           if i + 1 == len(rows) or rows[i + 1]["elapsed_s"] < r["elapsed_s"]) / 3600}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_model", help="the EMA model a training run wrote (final.safetensors)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=18)
    ap.add_argument("--results", default="benchmarks/results/teacher_export.json")
    ap.add_argument("--metrics", default=None, help="also write the shipped file's metrics JSON here")
    ap.add_argument("--train-command", default=None, help="the command that trained the run (for --metrics)")
    ap.add_argument("--run-dir", default=None, help="the run's folder, for its log.jsonl (default: run_model's folder)")
    ap.add_argument("--samples", default=None, help="also write a grid of float16 Heun samples here (8 per class, or 64)")
    args = ap.parse_args()

    D32 = load_teacher(args.run_model)
    save_teacher(args.out, D32, dtype=torch.float16, training=D32.meta.get("training"))
    D16 = load_teacher(args.out)
    x, y = held_out(D32, args.n)

    rel = []
    torch.manual_seed(0)
    for sigma in karras_sigmas(10, append_zero=False):
        noisy = x + sigma * torch.randn_like(x)
        a, b = D32(noisy, sigma, y), D16(noisy, sigma, y)
        rel.append(((a - b).norm() / a.norm()).item())
    result = {"command": "python " + " ".join(sys.argv), "n_images": len(x), "denoiser_max_relative_difference": max(rel)}
    labels = torch.arange(10).repeat_interleave(args.n // 10) if D32.net.cfg.num_classes else None
    for name, D in (("float32", D32), ("float16", D16)):
        z, p = roundtrip(D, x, y)
        result[name] = {"roundtrip_psnr_mean_db": p.mean().item(), "roundtrip_psnr_worst_db": p.min().item(),
                        "latent": latent_stats(z / D.sigma_max),
                        "file_bytes": Path(args.run_model if name == "float32" else args.out).stat().st_size}
        if labels is not None:
            samples = heun_samples(D, labels, args.steps, seed=0)
            result[name]["heun_sample_class_accuracy"] = class_accuracy(samples, labels)
            result[name]["heun_sample_fid"] = fid(samples, "test")
        print(name, result[name])
    Path(args.results).write_text(json.dumps(result, indent=1) + "\n")
    if args.samples:
        # As `pagoda-inverse sample --per-class 8` draws them: one row per class (64 unlabelled samples otherwise).
        rows = None if labels is None else torch.arange(D16.net.cfg.num_classes).repeat_interleave(8)
        grid = make_grid(heun_samples(D16, rows, args.steps, seed=0, batch=64), nrow=8, pad=2)
        save_image(grid, args.samples)
    if args.metrics:
        config = D32.meta.get("training", {}).get("config", {})
        metrics = {"command": args.train_command or f"pagoda-inverse train teacher (the config stored in {args.out})",
                   "run": training_summary(Path(args.run_dir or Path(args.run_model).parent)), "config": config, "export": result}
        Path(args.metrics).write_text(json.dumps(metrics, indent=1) + "\n")
    print(f"wrote {args.out} and {args.results}" + (f" and {args.metrics}" if args.metrics else ""))


if __name__ == "__main__":
    main()
