"""How to infer an unknown class, per task, on the tuning images (Fashion-MNIST test images 4000-4299;
the task specs report 0-499): the model's classifier on the first restoration (super-resolution:
on y, through the teacher's denoising when y is noisy), the teacher's denoising scores, or both
summed with the teacher's weighted, and the teacher scoring only the classifier's top m classes
(shortlist), with and without the teacher also scoring the mirrored image (label_mirror). Accuracy
of the top class before any latent optimisation (the class is chosen before it; restore()
classifies its restoration again afterwards), and seconds per image of the scoring.

    python benchmarks/label_inference.py [--n 300] [--draws 4]
    python benchmarks/label_inference.py --recheck   # after the solve: what the recheck should weigh

--recheck solves each image with the first-stage class (the task's settings, no recheck) and scores
ways of classifying again: the restoration alone by classifier + w teacher (what restore() does), or
that summed with the first stage's scores (the evidence of y and of the restoration together).
"""
import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from pagoda_inverse.autoencoder import load
from pagoda_inverse.bench import load_images, load_spec
from pagoda_inverse.physics import operator_from_spec, task_of
from pagoda_inverse.solvers import first_guess, noise_std, restore, task_settings
from pagoda_inverse.solvers.labels import (classifier_log_probs, combine_scores, label_candidates,
                                           teacher_class_scores)

ROOT = Path(__file__).resolve().parent.parent
SPECS = ("superres_x4", "superres_x4_noisy", "inpaint_box", "inpaint_random", "deblur_gaussian", "deblur_motion")
WEIGHTS = (1.0, 3.0, 10.0)
TIMED_WEIGHT = 3.0
SHORTLISTS = (0, 2, 3, 5)  # 0: the teacher scores all ten classes


def accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    return (scores.argmax(1) == labels).float().mean().item()


def combined(log_c: torch.Tensor, teacher: torch.Tensor, w: float, m: int) -> torch.Tensor:
    """label_candidates' "both" from all ten teacher scores: the classifier's top m classes kept (0: all)."""
    kept = log_c.topk(m, dim=1).indices if m else None
    return combine_scores(log_c, teacher if kept is None else teacher.gather(1, kept), w, kept)


def recheck_study(model, st, y, physics, labels, draws) -> dict:
    """Accuracy of the first-stage class and of ways to classify again after the solve."""
    first = restore(model, y, physics, None, replace(st, label_recheck=False))
    x = first.x
    # First stage: the scores restore() chose from (all ten classes), recomputed the same way.
    sr = task_of(physics) == "superres"
    x0 = y.clamp(0, 1) if sr else first.x_init
    s = noise_std(physics)
    log_c0 = classifier_log_probs(model, x0, y if sr else None, s)
    t0 = teacher_class_scores(model, y if sr else x0, s if sr else 0.0, draws=draws)
    log_cx = model.classify(x).log_softmax(1)
    tx = teacher_class_scores(model, x, 0.0, draws=draws)
    res = {"first_stage": (first.labels == labels).float().mean().item()}
    for w in WEIGHTS:
        res[f"restoration_w{w:g}"] = accuracy(log_cx + w * tx, labels)
        res[f"restoration_w{w:g}_plus_first"] = accuracy(log_cx + w * tx + log_c0 + st.label_teacher_weight * t0, labels)
        res[f"restoration_classifier_plus_first_w{w:g}"] = accuracy(log_cx + log_c0 + w * t0, labels)
    res["restoration_classifier"] = accuracy(log_cx, labels)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--first", type=int, default=4000)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--draws", type=int, default=4)
    ap.add_argument("--n-time", type=int, default=100, help="images the library call is timed (and checked) on")
    ap.add_argument("--tasks", default=",".join(SPECS), help="comma-separated task specs (default: all six)")
    ap.add_argument("--recheck", action="store_true", help="study the recheck after the solve instead")
    ap.add_argument("--out", default=None, help="default: benchmarks/results/label_inference[_recheck].json")
    args = ap.parse_args()
    args.out = args.out or str(ROOT / "benchmarks/results" / f"label_inference{'_recheck' if args.recheck else ''}.json")
    torch.set_num_threads(2)
    model = load("fmnist")
    out = {"command": "python " + " ".join(sys.argv), "images": [args.first, args.first + args.n - 1],
           "draws": args.draws, "tasks": {}}
    for name in args.tasks.split(","):
        spec = load_spec(ROOT / "tasks" / f"{name}.toml")
        x, labels = load_images({**spec.data, "first": args.first, "n": args.n})
        physics = operator_from_spec(spec.operator, tuple(x.shape[-2:]), 12345)
        y = physics(x, torch.Generator().manual_seed(12345))
        s = noise_std(physics)
        st = task_settings(spec.task, None, model.task_defaults)
        sr = spec.task == "superres"
        x_init = first_guess(y, physics, st)  # bicubic for super-resolution
        src = y.clamp(0, 1) if sr else x_init
        if args.recheck:
            out["tasks"][name] = res = recheck_study(model, st, y, physics, labels, args.draws)
            print(name, json.dumps({k: round(v, 3) for k, v in res.items()}), flush=True)
            continue
        # The components once; each (weight, shortlist) pair combines them as label_candidates does.
        log_c = classifier_log_probs(model, src, y if sr else None, s)
        teacher = teacher_class_scores(model, y if sr else x_init, s if sr else 0.0, draws=args.draws)
        teacher_m = teacher_class_scores(model, y if sr else x_init, s if sr else 0.0, draws=args.draws, mirror=True)
        res = {"classifier": accuracy(log_c, labels), "teacher": accuracy(teacher, labels),
               "teacher_mirror": accuracy(teacher_m, labels)}
        for w in WEIGHTS:
            for m in SHORTLISTS:
                for suffix, t in (("", teacher), ("_mirror", teacher_m)):
                    res[f"both_w{w:g}" + (f"_top{m}" if m else "") + suffix] = accuracy(combined(log_c, t, w, m), labels)
        # Seconds per image of the library's call, on the first images, and a check that it agrees.
        seconds, n = {}, args.n_time
        teacher_n = teacher_class_scores(model, y[:n] if sr else x_init[:n], s if sr else 0.0, draws=args.draws)
        for m in SHORTLISTS:
            t0 = time.perf_counter()
            top, _ = label_candidates(model, src[:n], 1, "both", y[:n] if sr else None, s, TIMED_WEIGHT, args.draws, m)
            seconds[f"top{m}" if m else "all"] = (time.perf_counter() - t0) / n
            expected = combined(log_c[:n], teacher_n, TIMED_WEIGHT, m).argmax(1)
            assert torch.equal(top[:, 0], expected), (name, m)
        t0 = time.perf_counter()
        top, _ = label_candidates(model, src[:n], 1, "both", y[:n] if sr else None, s, TIMED_WEIGHT, args.draws, 5, True)
        seconds["top5_mirror"] = (time.perf_counter() - t0) / n
        res = {"accuracy": res, "seconds_per_image": seconds}
        out["tasks"][name] = res
        print(name, json.dumps({k: round(v, 3) for k, v in res["accuracy"].items()}), res["seconds_per_image"],
              flush=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
