"""The measurements of a PaGoDA autoencoder on the Fashion-MNIST test set.

1. FID and class accuracy (the Fashion-MNIST judge) of N one-step class-conditional samples at every
   decoder resolution, next to the teacher's Heun samples at 8x8, those samples upsampled bicubically
   to 16 and 32, and a reconstruction-only decoder (--baseline). FID is against the test set brought
   to the samples' resolution by the project's downsample.
2. Super-resolution 8 -> 16 and 8 -> 32 by encode-then-decode (true labels) on the first --n-sr test
   images: PSNR, SSIM, LPIPS against nearest, bilinear and bicubic upsampling of the same 8x8 inputs.
   The same reconstructions also get FID and class accuracy: what each decoder does from the
   encoder's latents rather than from the prior (the test set is also FID's reference here).
3. Speed in one run: images/s of one-step generation at each resolution, of the teacher's Heun
   sampler at 8x8, and of the encoder. It needs the CPU to itself; --speed-only measures it alone.
4. Figures: docs/decoder_superres.png and docs/decoder_samples_32.png.

    python benchmarks/decoder_eval.py --baseline fmnist-teacher,runs/decoder_fmnist_8_recon/final.safetensors,...
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pagoda_inverse.autoencoder import load
from pagoda_inverse.data import downsample, fashion_mnist_32, make_grid, save_image, upsample, upsample_nearest
from pagoda_inverse.diffusion import to_unit_range
from pagoda_inverse.metrics import fid, lpips_distance, psnr, ssim
from pagoda_inverse.metrics.classifier import shipped_judge
from pagoda_inverse.teacher import heun_samples

ROOT = Path(__file__).resolve().parent.parent


def batched(fn, n: int, batch: int = 500) -> torch.Tensor:
    return torch.cat([fn(slice(i, min(i + batch, n))) for i in range(0, n, batch)])


def sample_scores(images: torch.Tensor, labels: torch.Tensor, judge) -> dict:
    return {"fid": fid(images, "test", judge), "class_accuracy": judge.class_accuracy(images, labels),
            "resolution": images.shape[-1]}


def restoration_scores(x_hat: torch.Tensor, x: torch.Tensor) -> dict:
    return {"psnr_db": psnr(x_hat, x).mean().item(), "ssim": ssim(x_hat, x).mean().item(),
            "lpips": batched(lambda s: lpips_distance(x_hat[s], x[s]), len(x)).mean().item()}


@torch.no_grad()
def speed(model, heun_levels: int, x8: torch.Tensor, y: torch.Tensor, batch: int = 500) -> dict:
    """Images/s, one process, batch 500: one-step decoding at each resolution, the teacher's Heun
    sampler, and the encoder on the first 500 of the given low-resolution images."""
    def rate(fn, repeats=3):
        fn()  # warm-up
        t = time.time()
        for _ in range(repeats):
            fn()
        return batch * repeats / (time.time() - t)
    zb, yb = model.prior(batch, seed=0), torch.arange(batch) % 10
    out = {f"one_step_{r}": rate(lambda: model.decode(zb, yb, r)) for r in model.resolutions}
    out[f"teacher_heun_8_{2 * heun_levels - 1}_nfe"] = rate(lambda: heun_samples(model.D, yb, heun_levels), repeats=1)
    out[f"encoder_{model.levels}_levels"] = rate(lambda: model.encode(x8[:batch], y[:batch]), repeats=1)
    return out


def write_result(result: dict, out: str) -> None:
    Path(out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


def markdown(result: dict) -> str:
    """The README's tables, from the results."""
    lines = ["| generator | resolution | FID | class accuracy |", "| --- | --- | --- | --- |"]
    for k, v in result["samples"].items():
        lines.append(f"| {k} | {v['resolution']} | {v['fid']:.2f} | {100 * v['class_accuracy']:.1f}% |")
    lines += ["", "| decoder of the test latents | resolution | FID | class accuracy |", "| --- | --- | --- | --- |"]
    for k, v in result["reconstructions"].items():
        lines.append(f"| {k} | {v['resolution']} | {v['fid']:.2f} | {100 * v['class_accuracy']:.1f}% |")
    lines += ["", "| 8x8 -> | method | PSNR | SSIM | LPIPS |", "| --- | --- | --- | --- | --- |"]
    for k, v in result["superres"].items():
        method, r = k.rsplit("_", 1)
        lines.append(f"| {r}x{r} | {method} | {v['psnr_db']:.2f} dB | {v['ssim']:.3f} | {v['lpips']:.3f} |")
    lines += ["", "| generator | images/s |", "| --- | --- |"]
    lines += [f"| {k} | {v:.0f} |" for k, v in result["speed_images_per_s"].items()]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="fmnist", help="shipped autoencoder, or TEACHER,DECODER,... files")
    ap.add_argument("--baseline", default=None, help="TEACHER,DECODER,... of the reconstruction-only decoders")
    ap.add_argument("--n", type=int, default=5000, help="samples per generator (a multiple of 10)")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=TEACHER,DECODER,...",
                    help="another autoencoder to measure beside the shipped one (repeatable)")
    ap.add_argument("--n-sr", type=int, default=5000, help="test images for super-resolution")
    ap.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.8], help="prior temperatures of the one-step samples")
    ap.add_argument("--heun-levels", type=int, default=18, help="the teacher's sampling levels (the CLI default)")
    ap.add_argument("--samples-only", action="store_true",
                    help="only the generation scores: no super-resolution, reconstructions, speed or figures")
    ap.add_argument("--speed-only", action="store_true", help="only the speed (section 3)")
    ap.add_argument("--out", help="default: benchmarks/results/decoder_eval.json "
                                  "(decoder_eval_samples.json with --samples-only, decoder_speed.json with --speed-only)")
    ap.add_argument("--figures", default=str(ROOT / "docs"), help="folder for the figures ('' = none)")
    args = ap.parse_args()
    default = "decoder_eval_samples.json" if args.samples_only else "decoder_speed.json" if args.speed_only else "decoder_eval.json"
    args.out = args.out or str(ROOT / "benchmarks/results" / default)
    torch.set_num_threads(2)
    if args.speed_only:
        model = load(args.model)
        x32, y = fashion_mnist_32("test")
        result = {"command": "python " + " ".join(sys.argv), "speed_images_per_s":
                  speed(model, args.heun_levels, downsample(to_unit_range(x32), model.teacher_resolution), y),
                  "speed_threads": torch.get_num_threads()}
        print(json.dumps(result, indent=1))
        write_result(result, args.out)
        return

    model = load(args.model)
    models = {"pagoda": model}
    if args.baseline:
        models["reconstruction_only"] = load(args.baseline)
    for extra in args.extra:
        name, _, spec = extra.partition("=")
        models[name] = load(spec)
    judge = shipped_judge()
    labels = torch.arange(10).repeat_interleave(args.n // 10)
    result = {"command": "python " + " ".join(sys.argv), "n_samples": len(labels), "encoder_levels": model.levels,
              "heun_levels": args.heun_levels, "samples": {}, "superres": {}, "reconstructions": {},
              "speed_images_per_s": {}}

    # 1. Generation. The same prior noise (seed 0) for every decoder.
    heun = batched(lambda s: heun_samples(model.D, labels[s], args.heun_levels, seed=s.start), len(labels))
    result["samples"]["teacher_heun_8"] = sample_scores(heun, labels, judge)
    for r in model.resolutions[1:]:
        result["samples"][f"teacher_heun_bicubic_{r}"] = sample_scores(upsample(heun, r, "bicubic"), labels, judge)
    one_step = {}
    for t in args.temperatures:  # 1 is PaGoDA's prior; below 1, toward the encoder's narrower latents
        z = model.prior(len(labels), seed=0, temperature=t)
        for name, m in models.items():
            for r in m.resolutions:
                x = batched(lambda s: m.decode(z[s], labels[s], r).detach(), len(labels))
                key = f"{name}_{r}" if t == 1 else f"{name}_{r}_temperature_{t}"
                one_step[key] = x
                result["samples"][key] = sample_scores(x, labels, judge)
    for k, v in result["samples"].items():
        print(f"{k:40s} FID {v['fid']:8.3f}  class acc {100 * v['class_accuracy']:.1f}%", flush=True)
    if args.samples_only:
        write_result(result, args.out)
        return

    # 2. Super-resolution from the 8x8 test images, true labels.
    x32, y = fashion_mnist_32("test")
    x32, y = to_unit_range(x32[:args.n_sr]), y[:args.n_sr]
    x8 = downsample(x32, model.teacher_resolution)
    z_test = batched(lambda s: model.encode(x8[s], y[s]), len(x8))
    outputs = {}
    truths = {r: downsample(x32, r) if r < x32.shape[-1] else x32 for r in model.resolutions}
    for r in model.resolutions[1:]:
        truth = truths[r]
        for mode in ("nearest", "bilinear", "bicubic"):
            outputs[mode, r] = upsample(x8, r, mode)
            result["superres"][f"{mode}_{r}"] = restoration_scores(outputs[mode, r], truth)
        for name, m in ((n, m) for n, m in models.items() if r in m.resolutions):
            outputs[name, r] = batched(lambda s: m.decode(z_test[s], y[s], r).detach(), len(x8))
            result["superres"][f"{name}_{r}"] = restoration_scores(outputs[name, r], truth)
    for r in model.resolutions:  # the floor (the test images themselves) and bicubic, to read these FIDs by
        result["reconstructions"][f"test_images_{r}"] = sample_scores(truths[r], y, judge)
        if ("bicubic", r) in outputs:
            result["reconstructions"][f"bicubic_{r}"] = sample_scores(outputs["bicubic", r], y, judge)
    for name, m in models.items():
        for r in m.resolutions:
            if (name, r) not in outputs:
                outputs[name, r] = batched(lambda s: m.decode(z_test[s], y[s], r).detach(), len(x8))
            result["reconstructions"][f"{name}_{r}"] = sample_scores(outputs[name, r], y, judge)
    r_top = model.resolutions[-1]
    best = min(result["superres"][f"{m}_{r_top}"]["lpips"] for m in ("nearest", "bilinear", "bicubic"))
    result["superres_lpips_ratio_to_best_classical"] = result["superres"][f"pagoda_{r_top}"]["lpips"] / best
    for k, v in result["superres"].items():
        print(f"SR {k:28s} PSNR {v['psnr_db']:6.2f}  SSIM {v['ssim']:.4f}  LPIPS {v['lpips']:.4f}", flush=True)
    for k, v in result["reconstructions"].items():
        print(f"reconstruction {k:24s} FID {v['fid']:8.3f}  class acc {100 * v['class_accuracy']:.1f}%", flush=True)

    # 3. Speed, one batch size, one process, this machine's threads.
    result["speed_images_per_s"] = speed(model, args.heun_levels, x8, y)
    result["speed_threads"] = torch.get_num_threads()
    print(json.dumps(result["speed_images_per_s"], indent=1))

    print(markdown(result))
    write_result(result, args.out)

    # 4. Figures.
    if args.figures:
        fig = Path(args.figures)
        fig.mkdir(parents=True, exist_ok=True)
        rows = torch.linspace(0, len(x8) - 1, 8).long()  # a fixed spread of test images
        cols = [upsample_nearest(x8[rows], 32), outputs["bicubic", 32]]
        cols += [upsample_nearest(outputs["pagoda", r][rows], 32) if r < 32 else outputs["pagoda", r][rows]
                 for r in model.resolutions[1:]]
        cols = [c if len(c) == len(rows) else c[rows] for c in cols] + [x32[rows]]
        grid = torch.stack(cols, 1).reshape(-1, 1, 32, 32)
        save_image(make_grid(upsample_nearest(grid, 96), nrow=len(cols), pad=2), fig / "decoder_superres.png")
        per_class = one_step[f"pagoda_{r_top}"].reshape(10, -1, 1, r_top, r_top)[:, :10].reshape(-1, 1, r_top, r_top)
        save_image(make_grid(upsample_nearest(per_class, 3 * r_top), nrow=10, pad=2), fig / f"decoder_samples_{r_top}.png")
        print(f"wrote {fig}/decoder_superres.png and {fig}/decoder_samples_{r_top}.png")


if __name__ == "__main__":
    main()
