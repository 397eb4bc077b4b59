"""The README's headline table, from the task benchmarks' results (benchmarks/results/<spec>.json):
per task, PaGoDA (true class) against the best classical method by each metric, the ratios the task
layer is judged by, and the unknown-class accuracy and its LPIPS cost; where a spec ran deepinv's
diffusion solvers (DPS, DiffPIR, DDRM, each with the true class and unconditionally) on the 32x32
peer prior, PaGoDA (true class) against the best of them by each LPIPS, on the images every method
ran on, and its time against DPS's (true class). The goal those columns judge: each LPIPS at most
1.1x the best peer's, at 20x or more less time per image than DPS. Last, the README's summary: on
those common images, VGG LPIPS (which no decoder trains on) and PSNR of PaGoDA, the best classical
method and the best peer row.

    python benchmarks/headline.py [--out benchmarks/results/headline.md]
"""
import argparse
import json
from pathlib import Path

from pagoda_inverse.bench import is_classical
from pagoda_inverse.solvers.peers import PEERS

ROOT = Path(__file__).resolve().parent.parent
SPECS = ("superres_x4", "superres_x4_noisy", "inpaint_box", "inpaint_random", "deblur_gaussian", "deblur_motion")
SHORT = {"superres_x4": "super-resolution x4", "superres_x4_noisy": "super-resolution x4, noise 0.05",
         "inpaint_box": "inpainting, 12x12 hole", "inpaint_random": "inpainting, 70% missing",
         "deblur_gaussian": "Gaussian blur 1.5, noise 0.02", "deblur_motion": "motion blur 7, noise 0.02"}


def mean(r: dict, key: str) -> float:
    return r[key]["mean"]


def peer_row(spec: str, result: dict, peer_rows: dict) -> str:
    """One line of the peers' table: PaGoDA (true class) against the best peer by each LPIPS."""
    p = result["methods"]["pagoda"].get("on_common_images", result["methods"]["pagoda"])
    best = {k: min(peer_rows.items(), key=lambda kv: mean(kv[1], k)) for k in ("lpips_alex", "lpips_vgg")}
    ratio = {k: mean(p, k) / mean(b, k) for k, (_, b) in best.items()}
    dps = peer_rows.get("dps")
    faster = dps["seconds_per_image"] / p["seconds_per_image"] if dps else None
    met = all(r <= 1.1 for r in ratio.values()) and faster is not None and faster >= 20
    (na, ba), (nv, bv) = best["lpips_alex"], best["lpips_vgg"]
    return (f"| {SHORT[spec]} | {result.get('common_images', result['data']['n'])} | "
            f"{mean(p, 'lpips_alex'):.3f} / {mean(p, 'lpips_vgg'):.3f} | {na} {mean(ba, 'lpips_alex'):.3f} | "
            f"{nv} {mean(bv, 'lpips_vgg'):.3f} | {ratio['lpips_alex']:.2f} | {ratio['lpips_vgg']:.2f} | "
            f"{mean(p, 'psnr'):.2f} / {mean(bv, 'psnr'):.2f} | {p['seconds_per_image']:.2f} / "
            + (f"{dps['seconds_per_image']:.1f} | {faster:.0f}x" if dps else "- | -") + f" | {'met' if met else 'missed'} |")


def summary_row(spec: str, rows: dict, classical: set, peers: set) -> str:
    """One line of the README's summary, on the images every method ran on (`rows`: name -> result)."""
    def best(names, key, pick):
        name = pick(names, key=lambda k: mean(rows[k], key))
        return f"{name.replace('_unconditional', ' (uncond.)').replace('_', '-')} {mean(rows[name], key):.{3 if key == 'lpips_vgg' else 2}f}"
    p = rows["pagoda"]
    return (f"| `{spec}` | {mean(p, 'lpips_vgg'):.3f} | {best(classical, 'lpips_vgg', min)} | {best(peers, 'lpips_vgg', min)} | "
            f"{mean(p, 'psnr'):.2f} | {best(classical, 'psnr', max)} | {best(peers, 'psnr', max)} | "
            + (f"{rows['dps']['seconds_per_image'] / p['seconds_per_image']:.0f}x |" if "dps" in rows else "- |"))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/headline.md"))
    args = ap.parse_args()
    rows = ["| task | method | PSNR | SSIM | LPIPS AlexNet | LPIPS VGG | s / image |", "| --- | --- | --- | --- | --- | --- | --- |"]
    checks = ["| task | AlexNet LPIPS / best classical | VGG LPIPS / best classical | PSNR - best classical | "
              "unknown class: accuracy | unknown class: AlexNet LPIPS cost |", "| --- | --- | --- | --- | --- | --- |"]
    peers = ["| task | images | PaGoDA LPIPS AlexNet / VGG | best peer by AlexNet | best peer by VGG | AlexNet ratio | "
             "VGG ratio | PSNR PaGoDA / best-VGG peer | s / image PaGoDA / DPS | less time than DPS | goal |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    summary = ["| task (`tasks/<task>.toml`) | VGG LPIPS: PaGoDA | best classical | best peer | PSNR: PaGoDA | best classical | "
               "best peer | DPS's time / PaGoDA's |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for spec in SPECS:
        path = ROOT / "benchmarks/results" / f"{spec}.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        m = result["methods"]
        peer_rows = {k: v.get("on_common_images", v) for k, v in m.items() if v["config"]["method"] in PEERS and "psnr" in v}
        classical = {k: v for k, v in m.items() if is_classical(v["config"]["method"]) and "psnr" in v}
        if peer_rows:
            peers.append(peer_row(spec, result, peer_rows))
            common = {k: v.get("on_common_images", v) for k, v in m.items() if "psnr" in v}
            summary.append(summary_row(spec, common, set(classical), set(peer_rows)))
        p = m["pagoda"]
        for name, r in [("PaGoDA", p)] + [(k, v) for k, v in classical.items()]:
            rows.append(f"| {SHORT[spec]} | {name.replace('_', '-')} | {mean(r, 'psnr'):.2f} | {mean(r, 'ssim'):.3f} | "
                        f"{mean(r, 'lpips_alex'):.3f} | {mean(r, 'lpips_vgg'):.3f} | {r['seconds_per_image']:.3f} |")
        best = {k: min(mean(v, k) for v in classical.values()) for k in ("lpips_alex", "lpips_vgg")}
        best_psnr = max(mean(v, "psnr") for v in classical.values())
        u = m.get("pagoda_unknown_class", {})
        acc = f"{100 * mean(u, 'label_correct'):.1f}%" if "label_correct" in u else "-"
        cost = f"{mean(u, 'lpips_alex') / mean(p, 'lpips_alex'):.2f}x" if "lpips_alex" in u else "-"
        checks.append(f"| {SHORT[spec]} | {mean(p, 'lpips_alex') / best['lpips_alex']:.2f} | "
                      f"{mean(p, 'lpips_vgg') / best['lpips_vgg']:.2f} | {mean(p, 'psnr') - best_psnr:+.2f} dB | {acc} | {cost} |")
    text = "\n".join(rows) + "\n\n" + "\n".join(checks) + "\n"
    if peers[2:]:
        text += "\n" + "\n".join(peers) + "\n\n" + "\n".join(summary) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
