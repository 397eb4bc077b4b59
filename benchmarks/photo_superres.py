"""x4 super-resolution of the four held-out validation photos.

Each photo's 256x256 centre crop is brought to 64x64 by each of Pillow's box, bilinear, bicubic and
Lanczos reductions (rounded to 8 bits, as a user's file would be; data.resize.degrade) and restored
to 256x256 by: bicubic and Lanczos upsampling; the plain x4 network (--srnet, nets/srnet.py); and
PaGoDA (--model: the encoder/decoder pair, tile by tile, solvers.restore_tiled), natively (G(Enc(y)))
and with the task layer's latent optimisation; bicubic followed by back-projection through the
antialiased bicubic operator (bicubic_bp). PSNR, SSIM, HaarPSI (no learned weights: the judge for
models trained on LPIPS) and LPIPS (AlexNet and VGG) per kernel and averaged over kernels, each
method's ratio to bicubic, seconds per output megapixel, and a figure of crops at 2x zoom.

    python benchmarks/photo_superres.py                          # the classical baselines only
    python benchmarks/photo_superres.py --model photo --srnet runs/srnet_photo/final.safetensors
    python benchmarks/photo_superres.py --model photo --variant 'bp_bicubic={"filter": "bicubic"}'

A variant's JSON holds task-settings overrides and, under "filter", the operator the last step
back-projects through (physics.Downsampling: "box", the default, or "bicubic").
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pagoda_inverse.data import make_grid, save_image, upsample_nearest
from pagoda_inverse.data.photos import VALIDATION, skimage_photo, validation_crops
from pagoda_inverse.data.resize import LOWRES_KERNELS, degrade
from pagoda_inverse.metrics import haarpsi, lpips_distance, psnr, ssim
from pagoda_inverse.physics import Downsampling
from pagoda_inverse.solvers import data_consistency, restore_tiled, task_settings, upscale

CROP = 256


def methods(args) -> dict:
    """name -> function of y (1, 3, 256 / scale, 256 / scale) in [0, 1] returning (1, 3, 256, 256)."""
    scale = args.scale
    smooth = Downsampling(scale, filter="bicubic")
    m = {"bicubic": lambda y: upscale(y, scale, "bicubic"), "lanczos": lambda y: upscale(y, scale, "lanczos"),
         # x + A^+ (y - A x) from bicubic: the classical row of the smooth back-projection (noiseless y)
         "bicubic_bp": lambda y: data_consistency(smooth, upscale(y, scale, "bicubic"), y, 0.0, 1.0)}
    if args.srnet:
        from pagoda_inverse.nets.srnet import load_srnet
        net = load_srnet(args.srnet)
        m["srnet"] = lambda y: net(y).clamp(0, 1)
    if args.model:
        from pagoda_inverse.autoencoder import load
        model = load(args.model)
        native = task_settings("superres", {"latent": {"steps": 0, "model_error": 0.0, "restarts": 0}}, model.task_defaults)
        full = task_settings("superres", None, model.task_defaults)
        m["pagoda_native"] = lambda y: restore_tiled(model, y, Downsampling(scale), None, native, args.overlap)[0]
        m["pagoda"] = lambda y: restore_tiled(model, y, Downsampling(scale), None, full, args.overlap)[0]
        for variant in args.variant:  # NAME=JSON: task settings overrides on top of the model's defaults
            name, _, overrides = variant.partition("=")
            overrides = json.loads(overrides)
            op = Downsampling(scale, filter=overrides.pop("filter", "box"))
            st = task_settings("superres", overrides, model.task_defaults)
            m[f"pagoda_{name}"] = lambda y, st=st, op=op: restore_tiled(model, y, op, None, st, args.overlap)[0]
    return m


def large_input_run(model: str, side: int = 256) -> dict:
    """`pagoda-inverse superres` on the astronaut photo brought to side x side (bicubic, 8 bits), as a
    user runs it: wall time and the process's peak resident memory (ru_maxrss of the child)."""
    import resource
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.png", Path(tmp) / "out.png"
        save_image(degrade(skimage_photo("astronaut")[None], side, "bicubic")[0], src)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "pagoda_inverse.cli", "superres", str(src), "--model", model,
                            "-o", str(out)], capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if r.returncode:
            raise SystemExit(f"the large-input run failed: {r.stderr.strip().splitlines()[-1]}")
        from pagoda_inverse.data import load_image
        h, w = load_image(out).shape[-2:]
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20  # KiB on Linux
    return {"input": [side, side], "output": [h, w], "seconds": seconds,
            "seconds_per_output_megapixel": seconds / (h * w / 1e6), "peak_resident_memory_gib": peak_gib}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="a PaGoDA autoencoder (shipped name or TEACHER,DECODER,...)")
    ap.add_argument("--srnet", default=None, help="the plain x4 network's file (pagoda-inverse train srnet)")
    ap.add_argument("--scale", type=int, choices=(2, 4), default=4,
                    help="the upscaling factor: 4 uses the model's 64x64 decoder, 2 its 32x32 one (a stage's ablation)")
    ap.add_argument("--overlap", type=int, default=None, help="tile overlap in input pixels (default: a quarter tile)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                    help='another PaGoDA setting to measure, e.g. dc0=\'{"latent": {"model_error": 0}}\' (repeatable)')
    ap.add_argument("--large", action="store_true",
                    help="also time `pagoda-inverse superres` (--model) on a 256x256 input (1024x1024 out) and its peak memory")
    ap.add_argument("--out", default="benchmarks/results/photo_superres.json")
    ap.add_argument("--figure", default="docs/photo_superres.png")
    args = ap.parse_args()
    if args.large and not args.model:
        ap.error("--large times PaGoDA: give --model")

    crops, fns = validation_crops(CROP), methods(args)
    rows, outputs = {}, {}
    for kernel in LOWRES_KERNELS:
        for name, x in crops.items():
            y = degrade(x, CROP // args.scale, kernel)
            for method, fn in fns.items():
                t0 = time.perf_counter()
                out = fn(y).detach()
                seconds = time.perf_counter() - t0
                r = {"psnr": psnr(out, x).item(), "ssim": ssim(out, x).item(), "haarpsi": haarpsi(out, x).item(),
                     "lpips_alex": lpips_distance(out, x, "alex").item(), "lpips_vgg": lpips_distance(out, x, "vgg").item(),
                     "seconds_per_megapixel": seconds / (CROP * CROP / 1e6)}
                rows.setdefault(method, {}).setdefault(kernel, {})[name] = r
                outputs[(kernel, name, method)] = out
                print(f"{kernel:8s} {name:16s} {method:14s} " + " ".join(f"{k} {v:.4g}" for k, v in r.items()), flush=True)

    def mean(method, kernel, key):
        v = [r[key] for r in rows[method][kernel].values()]
        return sum(v) / len(v)

    keys = ("psnr", "ssim", "haarpsi", "lpips_alex", "lpips_vgg", "seconds_per_megapixel")
    summary = {m: {k: {key: mean(m, k, key) for key in keys} for k in LOWRES_KERNELS} for m in rows}
    for m in summary:
        summary[m]["mean_over_kernels"] = {key: sum(summary[m][k][key] for k in LOWRES_KERNELS) / len(LOWRES_KERNELS)
                                           for key in keys}
    ref = summary["bicubic"]["mean_over_kernels"]
    for m in summary:
        avg = summary[m]["mean_over_kernels"]
        avg.update(psnr_minus_bicubic_db=avg["psnr"] - ref["psnr"], lpips_alex_over_bicubic=avg["lpips_alex"] / ref["lpips_alex"],
                   lpips_vgg_over_bicubic=avg["lpips_vgg"] / ref["lpips_vgg"])
    result = {"command": "python " + " ".join(sys.argv), "photos": list(VALIDATION), "crop": CROP, "scale": args.scale,
              "kernels": list(LOWRES_KERNELS), "threads": torch.get_num_threads(), "summary": summary, "per_image": rows}
    if args.large:
        result["large"] = large_input_run(args.model)
        print("large input:", json.dumps(result["large"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    md = ["| method | kernel | PSNR | SSIM | HaarPSI | LPIPS Alex | LPIPS VGG | s / output MP |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m, per in summary.items():
        for k, v in per.items():
            md.append(f"| {m} | {k} | {v['psnr']:.2f} | {v['ssim']:.3f} | {v['haarpsi']:.3f} | {v['lpips_alex']:.3f} | {v['lpips_vgg']:.3f} | "
                      f"{v['seconds_per_megapixel']:.2f} |")
    Path(args.out).with_suffix(".md").write_text("\n".join(md) + "\n")

    # The figure: per photo (bicubic kernel), a 64x64 crop of every method's output at 2x zoom, input first, truth last.
    tiles = []
    for name, x in crops.items():
        box = (slice(None), slice(None), slice(96, 160), slice(96, 160))
        y = degrade(x, CROP // args.scale, "bicubic")
        tiles.append(upsample_nearest(upsample_nearest(y, CROP)[box], 128))
        tiles += [upsample_nearest(outputs[("bicubic", name, m)][box], 128) for m in fns]
        tiles.append(upsample_nearest(x[box], 128))
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    save_image(make_grid(torch.cat(tiles), nrow=len(fns) + 2, pad=2), args.figure)
    print(f"wrote {args.out}, {Path(args.out).with_suffix('.md')} and {args.figure} "
          f"(columns: input, {', '.join(fns)}, truth)")


if __name__ == "__main__":
    main()
