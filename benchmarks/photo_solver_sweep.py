"""The photo model's inpainting and deblurring settings (its task defaults in the model registry,
pagoda_inverse/models.py): each photo task spec (tasks/photo_*.toml) run through the
benchmark runner with its PaGoDA method replaced by a few latent-optimisation settings, beside its
classical methods. The pick per spec is tune_solvers.py's rule: the lowest VGG LPIPS among the
settings within 0.8 dB of the best classical PSNR (inpainting: 0.3 dB above it), else the highest PSNR.

The photo model has no photos held out beyond the four validation ones (data/photos.py), so these
settings are chosen on the very images the task specs report; docs/photo_model.md says so.

    python benchmarks/photo_solver_sweep.py [--tasks photo_inpaint_random,...]

Writes benchmarks/results/photo_solver_sweep/<spec>.{json,md,png} and picks.json.
"""
import argparse
import json
from dataclasses import replace
from pathlib import Path

from pagoda_inverse.bench import is_classical, load_spec, run
from tune_solvers import pick_row

ROOT = Path(__file__).resolve().parent.parent
SPECS = ("photo_inpaint_box", "photo_inpaint_random", "photo_deblur_gaussian", "photo_deblur_motion")
VARIANTS = {  # name -> [TASK.latent] keys; every other key is the model's default
    "none": {"steps": 0},  # G(Enc(x_0)), then the data-consistency step
    "fmnist_lr_10_steps": {"steps": 10, "lr": 0.1},  # Fashion-MNIST's learning rate
    "fmnist_lr_30_steps": {"steps": 30, "lr": 0.1},
    "lr0.01_30_steps": {"steps": 30, "lr": 0.01},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(SPECS))
    ap.add_argument("--out-dir", default=str(ROOT / "benchmarks/results/photo_solver_sweep"))
    ap.add_argument("--run-dir", default=str(ROOT / "runs/benchmarks/photo_solver_sweep"))
    args = ap.parse_args()
    picks = {}
    for name in args.tasks.split(","):
        spec = load_spec(ROOT / "tasks" / f"{name}.toml")
        classical = {k: m for k, m in spec.methods.items() if is_classical(m["method"])}
        variants = {v: {"method": "pagoda", "settings": {"latent": latent}} for v, latent in VARIANTS.items()}
        res = run(replace(spec, methods={**variants, **classical}), args.out_dir, args.run_dir)["methods"]
        rows = [{"variant": v, "psnr": res[v]["psnr"]["mean"], "lpips_vgg": res[v]["lpips_vgg"]["mean"]} for v in variants]
        picks[name] = pick_row(rows, [res[k]["psnr"]["mean"] for k in classical], spec.task)["variant"]
        print(name, "->", picks[name], VARIANTS[picks[name]])
    (Path(args.out_dir) / "picks.json").write_text(json.dumps(picks, indent=1) + "\n")


if __name__ == "__main__":
    main()
