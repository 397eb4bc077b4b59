"""PaGoDA's central claim in miniature: a 32x32 diffusion model trained with the CPU time
PaGoDA spent on its 8x8 teacher and three decoder stages, against PaGoDA's one-step 32x32 decoder.

Both generate the same N class-conditional samples (classes 0-9 in turn, one seed); each is scored
by the Fashion-MNIST judge (FID against the test set at 32x32, class accuracy: decoder_eval's
`sample_scores`) and timed per sample in batches, on the CPU alone. The peer samples with its Heun
sampler at 18 and 35 Karras levels (35 and 69 network evaluations), as EDM does.

    python benchmarks/generation_budget.py [--peer fmnist-peer-32] [--n 1000]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pagoda_inverse.autoencoder import load
from pagoda_inverse.metrics.classifier import shipped_judge
from pagoda_inverse.teacher import heun_samples, load_teacher, resolve

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decoder_eval import sample_scores  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, labels: torch.Tensor, batch: int) -> tuple[torch.Tensor, float]:
    """fn(labels of one batch, batch index) over all labels; (samples, seconds per sample)."""
    t, out = time.time(), []
    for i in range(0, len(labels), batch):
        out.append(fn(labels[i:i + batch], i // batch))
    return torch.cat(out), (time.time() - t) / len(labels)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", default="fmnist-peer-32", help="the peer's teacher file or shipped name")
    ap.add_argument("--n", type=int, default=1000, help="samples per generator")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--levels", type=int, nargs="+", default=[18, 35], help="the peer's Heun levels")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/generation_budget.json"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    judge = shipped_judge()
    model = load("fmnist")
    peer = load_teacher(args.peer)
    labels = torch.arange(args.n) % 10
    rows = {}

    x, sec = timed(lambda c, i: model.sample(c, 32, seed=i), labels, args.batch)
    rows["pagoda_one_step_32"] = {**sample_scores(x, labels, judge), "seconds_per_sample": sec, "nfe": 1}
    print(rows["pagoda_one_step_32"], flush=True)
    for levels in args.levels:
        x, sec = timed(lambda c, i: heun_samples(peer, c, levels, seed=i), labels, args.batch)
        rows[f"peer_heun_{levels}"] = {**sample_scores(x, labels, judge), "seconds_per_sample": sec, "nfe": 2 * levels - 1}
        print(levels, rows[f"peer_heun_{levels}"], flush=True)

    out = {"command": "python " + " ".join(sys.argv), "n": args.n, "threads": torch.get_num_threads(),
           "peer": {"file": str(resolve(args.peer)), "steps": peer.meta.get("training", {}).get("step")},
           "rows": rows}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    md = ["| generator | network evaluations | FID (judge, 32x32) | class accuracy | s / sample |", "| --- | --- | --- | --- | --- |"]
    for name, r in rows.items():
        md.append(f"| {name.replace('_', ' ')} | {r['nfe']} | {r['fid']:.2f} | {100 * r['class_accuracy']:.1f}% | "
                  f"{r['seconds_per_sample']:.4f} |")
    Path(args.out).with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
