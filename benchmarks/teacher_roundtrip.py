"""The correctness check of the PF-ODE encoder and the statistics of its latents.

For the first N Fashion-MNIST test images at the teacher's resolution: encode (sigma_min -> sigma_max,
Heun on the Karras grid, D clamped), decode back along the same grid with the same label and clamp,
report the round-trip PSNR and the statistics of z / sigma_max next to N(0, 1). Variants: the true
label, the null label, and classifier-free guidance in both directions. With --snapshots, the
latent statistics of every EMA snapshot of a run show how they move with training (and with
--snapshot-roundtrip, so does the round trip; with --snapshot-samples N, the FID and class accuracy
of N Heun samples, 18 levels, as decoder_eval.py scores the shipped teacher).

    python benchmarks/teacher_roundtrip.py --model fmnist-teacher --n 1000 \
        --snapshots runs/teacher_fmnist/snapshots --out benchmarks/results/teacher_roundtrip.json
"""
import argparse
import json
import shlex
import time
from pathlib import Path

import torch

from pagoda_inverse.data import downsample, fashion_mnist_32
from pagoda_inverse.diffusion import decode_ode, encode, to_unit_range
from pagoda_inverse.metrics import psnr
from pagoda_inverse.teacher import heun_samples, load_teacher

BAR_DB = 45  # the worst-image bar the encoder must clear, counted here for every set of images


def latent_stats(z: torch.Tensor) -> dict:
    """Statistics of z / sigma_max (for N(0, 1): mean 0, std 1, per-image std 1, excess kurtosis 0)."""
    u = z.double().flatten(1)
    per_image_std = u.std(dim=1)
    flat = u.flatten()
    kurt = (((flat - flat.mean()) / flat.std()) ** 4).mean() - 3
    return {"mean": flat.mean().item(), "std": flat.std().item(),
            "per_image_std_mean": per_image_std.mean().item(), "per_image_std_min": per_image_std.min().item(),
            "per_image_std_max": per_image_std.max().item(), "excess_kurtosis": kurt.item()}


def roundtrip(D, x, y, levels=40, guidance=1.0, clamp=True) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode x (in [-1, 1]), decode back along the same grid with the same label and clamp:
    (z, per-image PSNR of the result against x)."""
    z = encode(D, x, y, levels, guidance, clamp)
    back = decode_ode(D, z, y, levels, guidance, clamp)
    return z, psnr(to_unit_range(back.clamp(-1, 1)), to_unit_range(x))


def run_variant(D, x, y, levels, guidance, batch, with_roundtrip=True, first=0) -> dict:
    """The latent statistics (and round trip) of test images first, first + 1, ...; the batches are independent."""
    zs, psnrs, t0 = [], [], time.time()
    for i in range(0, len(x), batch):
        xb, yb = x[i:i + batch], (y[i:i + batch] if y is not None else None)
        if with_roundtrip:
            z, p = roundtrip(D, xb, yb, levels, guidance)
            psnrs.append(p)
        else:
            z = encode(D, xb, yb, levels, guidance, clamp=True)
        zs.append(z)
    out = {"latent": latent_stats(torch.cat(zs) / D.sigma_max), "seconds": time.time() - t0}
    if with_roundtrip:
        p = torch.cat(psnrs)
        out["roundtrip_psnr_db"] = {"mean": p.mean().item(), "worst": p.min().item(), "median": p.median().item(),
                                    "percentile_1": p.quantile(0.01).item(), "percentile_0.1": p.quantile(0.001).item(),
                                    f"images_under_{BAR_DB}_db": int((p < BAR_DB).sum()),
                                    "worst_test_image": first + int(p.argmin()),
                                    f"under_{BAR_DB}_db": {first + i: p[i].item()
                                                           for i in (p < BAR_DB).nonzero().flatten().tolist()}}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="fmnist-teacher")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--offset", type=int, default=0, help="skip this many test images (a held-out set for choices)")
    ap.add_argument("--levels", type=int, default=40)
    ap.add_argument("--guidance", type=float, default=2.0, help="w of the guided variant")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--variants", default="true_label,null_label,cfg", help="comma-separated subset of the variants")
    ap.add_argument("--snapshots", default=None,
                    help="folder of EMA snapshots (ema-*.safetensors), or comma-separated snapshot files")
    ap.add_argument("--snapshot-n", type=int, default=None, help="images for the snapshot statistics (default: --n)")
    ap.add_argument("--snapshot-roundtrip", action="store_true", help="also the round trip of every snapshot")
    ap.add_argument("--snapshot-samples", type=int, default=0, help="also score this many Heun samples per snapshot")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="benchmarks/results/teacher_roundtrip.json")
    args = ap.parse_args()

    D = load_teacher(args.model)
    res = D.net.cfg.resolution
    x32, y = fashion_mnist_32("test", args.data_dir)
    sel = slice(args.offset, args.offset + args.n)
    x, y = downsample(x32[sel], res), y[sel]
    result = {"command": "python benchmarks/teacher_roundtrip.py " + " ".join(
        f"--{k.replace('_', '-')}" + ("" if v is True else f" {shlex.quote(str(v))}") for k, v in vars(args).items()
        if v is not None and v is not False),
              "model": str(args.model), "training": D.meta.get("training", {}).get("step"),
              "n_images": len(x), "first_test_image": args.offset, "levels": args.levels,
              "network_evaluations_per_direction": 2 * (args.levels - 1),
              "reference_N01": {"mean": 0.0, "std": 1.0, "per_image_std_mean": 1.0, "excess_kurtosis": 0.0},
              "variants": {}}
    variants = {"true_label": (y, 1.0), "null_label": (None, 1.0), "cfg": (y, args.guidance)}
    for key in filter(None, args.variants.split(",")):
        labels, w = variants[key]
        name = f"true_label_cfg_w{args.guidance:g}" if key == "cfg" else key
        result["variants"][name] = run_variant(D, x, labels, args.levels, w, args.batch, first=args.offset)
        print(name, json.dumps(result["variants"][name]))
    if args.snapshots:
        result["snapshots"] = {}
        snaps = (sorted(Path(args.snapshots).glob("ema-*.safetensors")) if Path(args.snapshots).is_dir()
                 else [Path(f) for f in args.snapshots.split(",")])
        if args.snapshot_samples:
            from decoder_eval import batched, sample_scores
            from pagoda_inverse.metrics.classifier import shipped_judge
            judge, labels = shipped_judge(), torch.arange(10).repeat_interleave(args.snapshot_samples // 10)
        for snap in snaps:
            Ds = load_teacher(snap)
            m = args.snapshot_n or len(x)
            out = run_variant(Ds, x[:m], y[:m], args.levels, 1.0, args.batch, with_roundtrip=args.snapshot_roundtrip,
                              first=args.offset)
            stats = {"n_images": m, **out["latent"], **({"roundtrip_psnr_db": out["roundtrip_psnr_db"]}
                                                         if args.snapshot_roundtrip else {})}
            if args.snapshot_samples:  # the same noise and levels as decoder_eval.py's teacher rows
                heun = batched(lambda s: heun_samples(Ds, labels[s], 18, seed=s.start), len(labels))
                stats["heun_samples_18_levels"] = sample_scores(heun, labels, judge)
            result["snapshots"][Ds.meta["training"]["step"]] = stats
            print(snap.name, json.dumps(stats))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
