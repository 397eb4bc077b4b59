"""What the latent optimisation's chains and steps buy, per task: PaGoDA (true class) with the task's
tuned settings (configs/tasks.toml) and the restart count and step count varied, on the tuning images
(Fashion-MNIST test images 4000-4099; the task specs report 0-499). The cost is counted in decoder
evaluations per image ((1 + restarts) x steps, each with a backward pass) and timed in seconds per image
(batches of 50; the CPU must be otherwise idle for the seconds to mean anything). It chose
`restarts` and `steps` in configs/tasks.toml.

    python benchmarks/restarts_study.py [--tasks inpaint_random,...] [--n 100]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pagoda_inverse.autoencoder import load
from pagoda_inverse.bench import score
from pagoda_inverse.solvers import restore, task_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_solvers import SPECS, means, results_file, tuning_problem  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GRID = ((0, 40), (1, 20), (1, 30), (1, 40), (2, 20), (2, 30), (2, 40))  # (restarts, steps)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(SPECS))
    ap.add_argument("--first", type=int, default=4000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/restarts_study.json"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    out = results_file(args.out, args.first, args.n)
    model = load("fmnist")
    for name in args.tasks.split(","):
        spec, x, labels, physics, y = tuning_problem(name, args.first, args.n)
        rows = []
        for restarts, steps in GRID:
            st = task_settings(spec.task, {"latent": {"restarts": restarts, "steps": steps}}, model.task_defaults)
            t, recs = time.time(), []
            for i in range(0, len(x), args.batch):
                r = restore(model, y[i:i + args.batch], physics, labels[i:i + args.batch], st)
                recs.append(score(r.x, x[i:i + args.batch], {}))
            seconds = (time.time() - t) / len(x)
            merged = {k: [v for rec in recs for v in rec[k]] for k in recs[0]}
            row = {"restarts": restarts, "steps": steps, "evaluations": (1 + restarts) * steps, "seconds": seconds,
                   **means(merged)}
            rows.append(row)
            print(f"{name} restarts {restarts} steps {steps}: {seconds:.3f} s/img PSNR {row['psnr']:.2f} "
                  f"LPIPS {row['lpips_alex']:.4f} VGG {row['lpips_vgg']:.4f}", flush=True)
        out["tasks"][name] = rows
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
