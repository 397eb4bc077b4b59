"""Ship trained decoders: write each EMA decoder in float16 and measure what that costs.

For each run output, decodes the same 1000 prior latents with the float32 and the float16 weights
(both computed in float32), reports the largest pixel difference, the PSNR between the two and,
for a class-conditional decoder, the class accuracy of both (for a photo decoder, both restoring
held-out patches: benchmarks/photo_decoder_eval.py), and summarises each run's log into the
results file (merged with the entries of decoders not exported this time).

    python benchmarks/export_decoder.py runs/decoder_fmnist_{8,16,32}/final.safetensors \
        --out-dir pagoda_inverse/weights --prefix fmnist_decoder
    python benchmarks/export_decoder.py runs/decoder_photo_16/final.safetensors \
        --out-dir pagoda_inverse/weights --prefix photo_decoder --results pagoda_inverse/weights/photo_decoder.metrics.json
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from pagoda_inverse import checkpoint
from pagoda_inverse.diffusion import to_unit_range
from pagoda_inverse.metrics import class_accuracy, psnr
from pagoda_inverse.distill.decoder import load_decoder


def run_summary(log_path: Path, meta: dict) -> dict:
    """Steps, images, wall time and the losses averaged over the last 10% of the run's log."""
    rows = [json.loads(line) for line in log_path.read_text().splitlines()]
    tail = rows[-max(1, len(rows) // 10):]
    losses = {k: sum(r[k] for r in tail) / len(tail) for k in ("L_rec", "L_G", "L_D", "w") if k in tail[0]}
    # elapsed_s restarts with each process of a resumed run: the run's time is the sum of each process's last.
    ends = [a["elapsed_s"] for a, b in zip(rows, rows[1:]) if b["elapsed_s"] < a["elapsed_s"]] + [rows[-1]["elapsed_s"]]
    return {"steps": rows[-1]["step"], "kimg": rows[-1]["kimg"], "wall_minutes_of_last_process": rows[-1]["elapsed_s"] / 60,
            "wall_minutes_logged": sum(ends) / 60, "processes": len(ends),
            "images_per_s_median": statistics.median(r["images_per_s"] for r in rows), "final_losses": losses,
            "config": meta["training"]["config"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_models", nargs="+", help="final.safetensors of decoder runs")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--prefix", default="fmnist_decoder")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--heldout", type=int, default=200, help="held-out photo patches an unconditional decoder restores")
    ap.add_argument("--results", default="pagoda_inverse/weights/fmnist_decoder.metrics.json")
    args = ap.parse_args()

    # Decoders exported by an earlier command keep their entries; each entry names its command.
    command = "python " + " ".join(sys.argv)
    old = json.loads(Path(args.results).read_text()) if Path(args.results).exists() else {"decoders": {}}
    result = {"decoders": {k: {"command": v.get("command", old.get("command")), **v} for k, v in old["decoders"].items()}}
    for path in args.run_models:
        tensors, meta = checkpoint.load(path)
        G32 = load_decoder(path).eval()
        out = Path(args.out_dir) / f"{args.prefix}_{G32.resolution}.safetensors"
        checkpoint.save(out, {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}, meta)
        G16 = load_decoder(out).eval()
        g = torch.Generator().manual_seed(0)
        z = torch.randn(args.n, G32.cfg.model.channels, G32.cfg.model.resolution, G32.cfg.model.resolution, generator=g) * G32.cfg.sigma_max
        K = G32.cfg.model.num_classes
        y = torch.arange(K).repeat_interleave(args.n // K) if K else None
        with torch.no_grad():
            zs = z.split(100)  # batches: 1000 images at 64x64 at once would take gigabytes
            ys = y.split(100) if K else [None] * len(zs)
            a, b = (torch.cat([to_unit_range(G(z_i, y_i)).clamp(0, 1) for z_i, y_i in zip(zs, ys)]) for G in (G32, G16))
        row = {"command": command, "file": str(out), "bytes_fp16": out.stat().st_size, "bytes_fp32": Path(path).stat().st_size,
               "max_abs_pixel_difference": (a - b).abs().max().item(), "psnr_fp16_vs_fp32_db": psnr(b, a).mean().item()}
        if K:
            row |= {"class_accuracy_fp32": class_accuracy(a, y), "class_accuracy_fp16": class_accuracy(b, y)}
        else:  # a photo decoder: restoring held-out patches through its teacher's encoder, float32 and float16
            from photo_decoder_eval import heldout_scores  # benchmarks/, this script's folder
            row |= {"heldout_fp32": heldout_scores(path, args.heldout), "heldout_fp16": heldout_scores(out, args.heldout)}
        row["training"] = run_summary(Path(path).parent / "log.jsonl", meta)
        result["decoders"][str(G32.resolution)] = row
        print(G32.resolution, row, flush=True)
    Path(args.results).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
