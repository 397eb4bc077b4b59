"""The photo ablation's table (docs/photo_model.md, "The second design: the ablation"), from
`bash benchmarks/photo_ablation.sh`'s results: per variant, its 16 -> 32 stage measured at x2 as the
task runs it (the decoder, then the last step) and the decoder alone, mean over the four Pillow
kernels on the four held-out photos, against bicubic; and how far each stage trained in its time.

    python benchmarks/photo_ablation_table.py [--dir benchmarks/results/photo_ablation]

A variant's training summary (the step its latest.safetensors was saved at, images, the log's
images/s) is kept beside its results as <v>_train.json, so the table survives the run folder.
"""
import argparse
import json
from pathlib import Path

from pagoda_inverse.checkpoint import read_meta

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {"shipped": "the first design's 32x32 decoder (AlexNet LPIPS + MSE + AlexNet-projected GAN, 3,200 steps)",
            "losses0": "control: the first design's losses, 28 min",
            "B": "B: L1 + VGG LPIPS (average pooling), GAN weight 0.1, 28 min",
            "BC": "B + C: B's losses on a residual stage trained on the task's path, 28 min"}


def train_summary(out: Path, name: str, runs: Path) -> dict | None:
    """How far the stage trained: the step its EMA file was saved at (the run stops mid-way between log
    lines) and the log's speed, refreshed while the run folder exists, else the kept summary."""
    kept, run = out / f"{name}_train.json", runs / f"photo_ablation_32_{name}"
    if (run / "latest.safetensors").exists():
        training = read_meta(run / "latest.safetensors")["training"]
        step, batch = training["step"], training["config"]["train"]["batch_size"]
        last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
        kept.write_text(json.dumps({"step": step, "kimg": step * batch / 1000, "images_per_s": last["images_per_s"]},
                                   indent=1) + "\n")
    return json.loads(kept.read_text()) if kept.exists() else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=str(ROOT / "benchmarks/results/photo_ablation"))
    ap.add_argument("--runs", default=str(ROOT / "runs"), help="where the stages' run folders are")
    args = ap.parse_args(argv)
    out = Path(args.dir)
    shipped = json.loads((out / "shipped_x2.json").read_text())["summary"]
    rows = [("bicubic", shipped["bicubic"], None, None),
            ("bicubic, then the bicubic back-projection", shipped["bicubic_bp"], None, None)]
    for name, label in VARIANTS.items():
        path = out / f"{name}_x2.json"
        if not path.exists():
            continue
        s = json.loads(path.read_text())["summary"]
        # the shipped file carries no task defaults: its CLI-path row is the variant the script names "cli"
        task = s["pagoda_cli"] if name == "shipped" else s["pagoda"]
        rows.append((label, task, s["pagoda_native"], None if name == "shipped" else train_summary(out, name, Path(args.runs))))
    lines = ["| row | PSNR (vs bicubic) | SSIM | HaarPSI | AlexNet LPIPS (vs bicubic) | VGG LPIPS (vs bicubic) | "
             "the decoder alone, no last step: PSNR / VGG LPIPS | s / output MP | steps (kimg) | images/s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, r, native, train in rows:
        m = r["mean_over_kernels"]
        alone = f"{native['mean_over_kernels']['psnr']:.2f} / {native['mean_over_kernels']['lpips_vgg']:.3f}" if native else ""
        steps = f"{train['step']:,} ({train['kimg']:.1f}) | {train['images_per_s']:.1f}" if train else " | "
        lines.append(f"| {label} | {m['psnr']:.2f} ({m['psnr_minus_bicubic_db']:+.2f}) | {m['ssim']:.3f} | {m['haarpsi']:.3f} | "
                     f"{m['lpips_alex']:.3f} ({m['lpips_alex_over_bicubic']:.2f}x) | {m['lpips_vgg']:.3f} "
                     f"({m['lpips_vgg_over_bicubic']:.2f}x) | {alone} | {m['seconds_per_megapixel']:.1f} | {steps} |")
    text = "\n".join(lines) + "\n"
    (out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
