"""A photo decoder stage on held-out patches: how well G_r(Enc(y)) restores the patch at r x r.

For each decoder file (a stage's final.safetensors, a snapshot, or a shipped file), N patches of
the four held-out photos (data.photos.validation_patches, 64x64) are brought to the teacher's
16x16 as users' images are (data.resize.degrade_mix: a random Pillow kernel, mild blur half the
time, 8 bits; seed 1, so not the draws the decoders trained on), encoded by the decoder's own
teacher (20 levels, as the latent pairs were), decoded once, and compared with the patch brought to
r x r by the project's `downsample`: PSNR, SSIM, LPIPS AlexNet and VGG, and the same for bicubic
upsampling of the 16x16 input (for r = 16: the input itself, which differs from the target by its
kernel and 8 bits).

    python benchmarks/photo_decoder_eval.py runs/decoder_photo_16/snapshots/*.safetensors \
        runs/decoder_photo_16/final.safetensors --out benchmarks/results/photo_decoder_16_curve.json
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from pagoda_inverse.autoencoder import PaGoDA
from pagoda_inverse.data import downsample
from pagoda_inverse.data.photos import validation_patches
from pagoda_inverse.data.resize import degrade_mix
from pagoda_inverse.metrics import lpips_distance, psnr, ssim
from pagoda_inverse.distill.decoder import load_decoder
from pagoda_inverse.solvers import upscale
from pagoda_inverse.teacher import load_teacher


def scores(x_hat: torch.Tensor, x: torch.Tensor) -> dict:
    return {"psnr": psnr(x_hat, x).mean().item(), "ssim": ssim(x_hat, x).mean().item(),
            "lpips_alex": lpips_distance(x_hat, x, "alex").mean().item(), "lpips_vgg": lpips_distance(x_hat, x, "vgg").mean().item()}


@torch.no_grad()
def heldout_scores(path: str, n: int = 200, batch: int = 50) -> dict:
    G = load_decoder(path).eval()
    cfg = G.meta["training"]["config"]
    model = PaGoDA(load_teacher(cfg["teacher"]), [G], cfg["latents"]["levels"]).eval()
    x = validation_patches(n).float() / 255
    t, r = model.teacher_resolution, G.resolution
    y = degrade_mix(x, t, seed=1)
    target = downsample(x, r) if r != x.shape[-1] else x
    x_hat = torch.cat([model.decode(model.encode(y[i:i + batch]), None, r) for i in range(0, n, batch)])
    baseline = upscale(y, r // t) if r > t else y
    return {"file": str(path), "step": G.meta["training"].get("step"), "resolution": r, "patches": n,
            "pagoda": scores(x_hat, target), "bicubic" if r > t else "input": scores(baseline, target)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("decoders", nargs="+")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rows = []
    for path in args.decoders:
        rows.append(heldout_scores(path, args.n))
        print(json.dumps(rows[-1]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": "python " + " ".join(sys.argv), "decoders": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
