"""Where the photo model's x4 time goes, and what the tile overlap buys: the speed bar's measurements.

Times, on this machine, one batch of 16x16 input tiles through the encoder (Enc: the teacher's
PF-ODE, the model's levels) and through the 64x64 decoder; then the CLI's restoration
(solvers.restore_tiled with the model's superres settings) of the astronaut brought to 256x256
(bicubic, 8 bits) at each --overlap, with its tile count and seconds per output megapixel. Saves a
crop of each output (the neck and collar, 3x nearest zoom, side by side in --overlap order) to look
for seams, and checks every output is finite.

    python benchmarks/photo_inference_speed.py --out benchmarks/results/photo_inference_speed.json
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pagoda_inverse.autoencoder import load
from pagoda_inverse.data import save_image
from pagoda_inverse.data.photos import skimage_photo
from pagoda_inverse.data.resize import degrade
from pagoda_inverse.physics import Downsampling
from pagoda_inverse.solvers import restore_tiled, task_settings
from pagoda_inverse.solvers.tiles import tile_starts


def seconds(fn, repeats: int) -> float:
    """The fastest of `repeats` timed calls (after one untimed warm-up): the machine's noise only adds."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="photo")
    ap.add_argument("--side", type=int, default=256, help="the input's side (output: 4x)")
    ap.add_argument("--overlap", type=int, nargs="+", default=[4, 2], help="tile overlaps to time, input pixels")
    ap.add_argument("--batch", type=int, default=64, help="tiles per batch")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/photo_inference_speed.json")
    ap.add_argument("--figure", default="benchmarks/results/photo_inference_speed.png")
    args = ap.parse_args()

    torch.manual_seed(0)
    model = load(args.model)
    tiles = torch.rand(args.batch, 3, model.teacher_resolution, model.teacher_resolution)
    z = model.encode(tiles)
    parts = {"tiles": args.batch, "encoder_levels": model.levels,
             "encode_seconds": seconds(lambda: model.encode(tiles), args.repeats),
             "decode_seconds": seconds(lambda: model.decode(z), args.repeats)}
    print("per batch:", json.dumps(parts))

    y = degrade(skimage_photo("astronaut")[None], args.side, "bicubic")
    st = task_settings("superres", None, model.task_defaults)
    runs, crops = [], []
    for overlap in args.overlap:
        out = {}
        t = seconds(lambda: out.update(x=restore_tiled(model, y, Downsampling(4), None, st, overlap, args.batch)[0]),
                    args.repeats)
        n = len(tile_starts(args.side, model.teacher_resolution, overlap)) ** 2
        x = out["x"]
        runs.append({"overlap": overlap, "tiles": n, "seconds": t, "seconds_per_output_megapixel": t / (x[0, 0].numel() / 1e6),
                     "finite": bool(torch.isfinite(x).all())})
        print(json.dumps(runs[-1]))
        s = args.side * 4
        crops.append(torch.nn.functional.interpolate(x[..., s * 300 // 1024:s * 428 // 1024, s * 400 // 1024:s * 528 // 1024],
                                                     scale_factor=3, mode="nearest"))
    save_image(torch.cat(crops, -1)[0], args.figure)
    result = {"command": "python " + " ".join(sys.argv), "settings": vars(args), "threads": torch.get_num_threads(),
              "per_batch": parts, "astronaut": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} and {args.figure}")


if __name__ == "__main__":
    main()
