"""How to infer an unknown class, per task: the model's classifier on the first restoration (on y for
super-resolution), the teacher's denoising (solvers/labels.py), or both, on the tuning images
(Fashion-MNIST test images 4000-4299; the task specs report 0-499). Accuracy of the top class; no
latent optimisation (the class is chosen before it).

    python benchmarks/label_inference.py [--n 300]
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from pagoda_inverse.autoencoder import load
from pagoda_inverse.benchmark import load_images, load_spec, make_physics
from pagoda_inverse.solvers import classical_restoration, noise_std, task_settings, upscale
from pagoda_inverse.solvers.labels import label_candidates

ROOT = Path(__file__).resolve().parent.parent
SPECS = ("superres_x4", "superres_x4_noisy", "inpaint_box", "inpaint_random", "deblur_gaussian", "deblur_motion")
METHODS = (("classifier", 1.0), ("teacher", 1.0), ("both", 0.1), ("both", 0.3), ("both", 1.0), ("both", 3.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--first", type=int, default=4000)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/label_inference.json"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = load("fmnist")
    out = {"command": "python " + " ".join(sys.argv), "images": [args.first, args.first + args.n - 1], "tasks": {}}
    for name in SPECS:
        spec = load_spec(ROOT / "tasks" / f"{name}.toml")
        x, labels = load_images({**spec.data, "first": args.first, "n": args.n})
        physics = make_physics(spec.operator, tuple(x.shape[-2:]), 12345)
        y = physics(x, torch.Generator().manual_seed(12345))
        s = noise_std(physics)
        st = task_settings(spec.task)
        sr = spec.task == "superres"
        x_init = upscale(y.clamp(0, 1), physics.factor) if sr else classical_restoration(y, physics, st.rl_iterations)
        res = {}
        for method, weight in METHODS:
            top, _ = label_candidates(model, y.clamp(0, 1) if sr else x_init, 1, method, y if sr else None, s, weight)
            res[f"{method}_{weight:g}" if method == "both" else method] = (top[:, 0] == labels).float().mean().item()
        out["tasks"][name] = res
        print(name, json.dumps(res), flush=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
