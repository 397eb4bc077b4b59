"""Control in the latent space, measured: class transfer and interpolation on Fashion-MNIST test images.

1. Class transfer G(Enc(x, y), y') of test images 0..N-1 to each of the nine other classes: the
   judge's class accuracy (the fraction it assigns to the target class y'), against the judge's
   accuracy on the test images themselves, and against decoding fresh prior noise with y'.
   The source image's class is the true one, or the one the model's classifier infers.
2. Figures: docs/control_transfer.png (rows: images; columns: the image, then its transfer to each
   class 0-9) and docs/control_interpolation.png (pairs of images, classes mixed along the path, and
   held at the first image's class).

    python benchmarks/control.py [--n 500]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pagoda_inverse.autoencoder import load
from pagoda_inverse.control import interpolate, transfer
from pagoda_inverse.data import fashion_mnist_32, make_grid, save_image, upsample_nearest
from pagoda_inverse.diffusion import to_unit_range
from pagoda_inverse.metrics.classifier import shipped_judge

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/control.json"))
    ap.add_argument("--figures", default=str(ROOT / "docs"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, judge = load("fmnist"), shipped_judge()
    x, y = fashion_mnist_32("test")
    x, y = to_unit_range(x[:args.n]), y[:args.n]
    targets = torch.stack([(y + k) % 10 for k in range(1, 10)], 1)  # (N, 9): every other class
    result = {"command": "python " + " ".join(sys.argv), "images": args.n,
              "judge_accuracy_on_the_test_images": judge.class_accuracy(x, y)}

    with torch.no_grad():
        inferred = model.classify(x).argmax(1)
    result["inferred_class_accuracy"] = (inferred == y).float().mean().item()
    for source, labels in (("true_class", y), ("inferred_class", inferred)):
        t = time.time()
        z = model.encode(x, labels)
        encode_s = time.time() - t
        t = time.time()
        zs, ts = z.repeat_interleave(9, 0), targets.flatten()
        with torch.no_grad():
            out = torch.cat([model.decode(zs[i:i + 500], ts[i:i + 500]) for i in range(0, len(zs), 500)])
        decode_s = time.time() - t
        result[f"transfer_{source}"] = {"class_accuracy": judge.class_accuracy(out, targets.flatten()),
                                        "encode_seconds_per_image": encode_s / args.n,
                                        "decode_seconds_per_output": decode_s / out.shape[0]}
    ts = targets.flatten()
    prior = torch.cat([model.sample(ts[i:i + 500], seed=i) for i in range(0, len(ts), 500)])
    result["prior_samples_same_targets_class_accuracy"] = judge.class_accuracy(prior, ts)
    print(json.dumps(result, indent=1))
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")

    if args.figures:
        fig = Path(args.figures)
        rows = torch.arange(8)
        grid = [torch.cat([x[i:i + 1], transfer(model, x[i:i + 1].expand(10, -1, -1, -1), y[i], torch.arange(10))])
                for i in rows]
        save_image(make_grid(upsample_nearest(torch.cat(grid), 64), nrow=11, pad=2), fig / "control_transfer.png")
        pairs = ((0, 1), (2, 4), (8, 9))
        strips = []
        for a, b in pairs:
            for mix in (True, False):
                strips.append(interpolate(model, x[a:a + 1], x[b:b + 1], y[a], y[b], frames=8, mix_labels=mix))
        save_image(make_grid(upsample_nearest(torch.cat(strips), 64), nrow=8, pad=2), fig / "control_interpolation.png")
        print(f"wrote {fig}/control_transfer.png and {fig}/control_interpolation.png")


if __name__ == "__main__":
    main()
