"""The benchmark runner: a declarative task spec (tasks/*.toml) in; per-method PSNR, SSIM, LPIPS
(AlexNet and VGG), seconds and network evaluations per image out, as JSON (mean and standard error),
a Markdown table and a figure (input, each method's output, ground truth).

    pagoda-inverse benchmark tasks/superres_x4.toml [--n 100]

A spec names the task (its solver defaults: configs/tasks.toml), the model, the operator, the images
and the methods:

    task = "inpaint"
    model = "fmnist"
    [operator]   kind = "inpainting", box = 12    (or random = 0.7, mask = "m.png"; downsampling: factor;
                 blur: blur = "gaussian:1.5")     noise = 0.02 (std, [0, 1] units)
    [data]       dataset = "fashion_mnist", split = "test", first = 0, n = 500, seed = 0, batch = 50
                 (or dataset = "photos", crop = 256: the four held-out photos' centre crops; a model that
                 tiles, the photo model, restores them one at a time in blended tiles)
    [methods.pagoda]  method = "pagoda", labels = "true" | "inferred", settings = {...} (task overrides)
    [methods.biharmonic]  method = "biharmonic"   (nearest, bilinear, bicubic, richardson_lucy, wiener)
    [methods.dps]     method = "dps" (or "diffpir", "ddrm": deepinv's, solvers/peers.py), prior = "fmnist-peer-32",
                      labels = "true" | "none", settings = {...} (deepinv's keywords), n = 20 (only the first
                      20 images), batch = 10 (images per call; divides the data batch)

Every batch's per-image scores are appended to RUN_DIR/<method>.jsonl as they are computed, so a
killed run continues where it stopped; a batch a method fails on is recorded with its error (the
other methods go on). Measurement noise and random masks are drawn from (seed, data batch), so a method
that takes its images in smaller batches, or only the first n, sees the very same measurements.
"""
import json
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checkpoint
from .config import ConfigError, load_toml, to_dict
from .distributed import setup_distributed
from .metrics import lpips_distance, psnr, ssim
from .physics import Blur, Downsampling, Inpainting, box_mask, mask_from_image, parse_blur, random_mask
from .solvers import biharmonic, restore, restore_tiled, richardson_lucy, task_of, task_settings, upscale, wiener
from .solvers.peers import PEERS, peer_nfe

CLASSICAL = ("nearest", "bilinear", "bicubic", "biharmonic", "richardson_lucy", "wiener")
METRICS = ("psnr", "ssim", "lpips_alex", "lpips_vgg")


@dataclass
class Spec:
    name: str
    task: str
    model: str
    operator: dict
    data: dict
    methods: dict
    title: str = ""
    figure_images: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4, 5])


def load_spec(path: str | Path) -> Spec:
    d = load_toml(path)
    unknown = set(d) - {"title", "task", "model", "operator", "data", "methods", "figure_images"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}")
    for key in ("task", "operator", "data", "methods"):
        if key not in d:
            raise ConfigError(f"{path}: missing [{key}]")
    spec = Spec(Path(path).stem, d["task"], d.get("model", "fmnist"), d["operator"], d["data"], d["methods"],
                d.get("title", ""), d.get("figure_images", [0, 1, 2, 3, 4, 5]))
    for name, m in spec.methods.items():
        if m.get("method") not in ("pagoda", *CLASSICAL, *PEERS):
            raise ConfigError(f"{path}: method {name!r} has method = {m.get('method')!r}; use pagoda or one of "
                              f"{CLASSICAL + PEERS}")
        if int(spec.data.get("batch", 50)) % int(m.get("batch", spec.data.get("batch", 50))):
            raise ConfigError(f"{path}: method {name!r} has batch = {m['batch']}, which does not divide the data "
                              f"batch {spec.data.get('batch', 50)}")
    task_settings(spec.task)  # a wrong task name fails here, before any work
    return spec


def make_physics(op: dict, size: tuple[int, int], generator_seed: int):
    """The operator of a spec at image size (H, W); random masks are drawn from generator_seed."""
    kind, noise = op.get("kind"), float(op.get("noise", 0.0))
    if kind == "downsampling":
        return Downsampling(int(op["factor"]), noise)
    if kind == "inpainting":
        if "box" in op:
            mask = box_mask(size, op["box"] if isinstance(op["box"], int) else tuple(op["box"]))
        elif "random" in op:
            mask = random_mask(size, float(op["random"]), generator_seed)
        elif "mask" in op:
            mask = mask_from_image(op["mask"], size)
        else:
            raise ConfigError("[operator] inpainting needs box, random or mask")
        return Inpainting(mask, noise)
    if kind == "blur":
        return Blur(parse_blur(op["blur"]).kernel, noise, op.get("padding", "reflect"))
    raise ConfigError(f"[operator] kind must be downsampling, inpainting or blur, not {kind!r}")


def load_images(data: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N, C, H, W) in [0, 1] and labels of the spec's images."""
    if data.get("dataset", "fashion_mnist") == "fashion_mnist":
        from .data import fashion_mnist_32
        x, y = fashion_mnist_32(data.get("split", "test"), data.get("root"))
        first, n = int(data.get("first", 0)), int(data.get("n", 100))
        return (x[first:first + n] + 1) / 2, y[first:first + n]
    if data["dataset"] == "photos":  # the held-out validation photos' centre crops (data/photos.py)
        from .data.photos import validation_crops
        return torch.cat(list(validation_crops(int(data.get("crop", 256))).values())), None
    raise ConfigError(f"[data] unknown dataset {data.get('dataset')!r}")


def run_method(m: dict, model, y: torch.Tensor, physics, labels: torch.Tensor | None, task: str) -> tuple[torch.Tensor, dict]:
    """One method on one batch: (restored images, per-image extras)."""
    kind = m["method"]
    if kind in ("nearest", "bilinear", "bicubic"):
        return upscale(y.clamp(0, 1), physics.factor, kind), {}
    if kind == "biharmonic":
        return biharmonic(y, physics.mask), {}
    if kind == "richardson_lucy":
        return richardson_lucy(y, physics.kernel, int(m.get("iterations", 30))), {}
    if kind == "wiener":
        return wiener(y, physics.kernel), {}
    if kind in PEERS:
        from .solvers.peers import peer_solver
        from .teacher import load_teacher

        given = labels if m.get("labels", "true") == "true" else None
        return peer_solver(kind, load_teacher(m.get("prior", "fmnist-peer-32")), given, physics,
                           **m.get("settings", {}))(y, physics), {}
    settings = task_settings(task, m.get("settings"), model.name)
    given = labels if m.get("labels", "true") == "true" else None
    if model.tiles:  # any size, one image at a time in blended tiles (solvers.restore_tiled)
        from .solvers.latent import with_mask
        masks = getattr(physics, "mask", None)
        per_image = masks is not None and masks.shape[0] > 1
        outs = [restore_tiled(model, y[i:i + 1], with_mask(physics, masks[i:i + 1]) if per_image else physics, None, settings)
                for i in range(len(y))]
        return torch.cat([o[0] for o in outs]), {"std": torch.cat([o[1] for o in outs]), "tiles": tile_count(model, physics, y)}
    r = restore(model, y, physics, given, settings)
    extra = {"std": r.std}
    if r.labels is not None and labels is not None:
        extra["label_correct"] = (r.labels.cpu() == labels).float().tolist()
    return r.x, extra


def tile_count(model, physics, y: torch.Tensor) -> int:
    """The tiles restore_tiled cuts one image of y into (its defaults: a quarter-tile overlap)."""
    from .solvers.tiles import tile_starts
    tile = model.teacher_resolution if task_of(physics) == "superres" else model.resolutions[-1]
    return math.prod(len(tile_starts(max(n, tile), tile, tile // 4)) for n in y.shape[-2:])


def nfe(m: dict, model, task: str) -> int:
    """Network evaluations per image (forward passes; each optimisation step, and each DPS step, also
    back-propagates once)."""
    if m["method"] in PEERS:
        return peer_nfe(m["method"], m.get("settings"))
    if m["method"] != "pagoda":
        return 0
    s = task_settings(task, m.get("settings"), model.name)
    chains = 1 + s.latent.restarts
    encoder = 2 * (model.levels - 1)
    classify = 1 if m.get("labels", "true") != "true" else 0
    return s.label_candidates * (encoder + chains * (s.latent.steps + 1)) + classify


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


def score(x_hat: torch.Tensor, x: torch.Tensor, extra: dict) -> dict:
    rec = {"psnr": psnr(x_hat, x).tolist(), "ssim": ssim(x_hat, x).tolist(),
           "lpips_alex": lpips_distance(x_hat, x, "alex").tolist(), "lpips_vgg": lpips_distance(x_hat, x, "vgg").tolist()}
    if "label_correct" in extra:
        rec["label_correct"] = extra["label_correct"]
    if "std" in extra and extra["std"].abs().sum() > 0:  # uncertainty: does the spread follow the error?
        err = (x_hat - x).abs()
        rec["uncertainty_corr"] = [pearson(s, e) for s, e in zip(extra["std"], err)]
        rec["uncertainty_moments"] = [float(v) for v in (err.numel(), extra["std"].double().sum(), err.double().sum(),
                                                         (extra["std"].double() ** 2).sum(), (err.double() ** 2).sum(),
                                                         (extra["std"].double() * err.double()).sum())]
    return rec


def _first(rec: dict, first: int) -> dict:
    """A batch record cut to its images below `first` (its seconds in proportion)."""
    k = sum(i < first for i in rec["images"])
    if k == len(rec["images"]) or "error" in rec:
        return rec
    cut = {key: (v[:k] if isinstance(v, list) and len(v) == len(rec["images"]) else v) for key, v in rec.items()}
    cut.pop("uncertainty_moments", None)  # per-batch sums: not divisible
    cut["seconds"] = rec["seconds"] * k / len(rec["images"])
    return cut


def summarise(records: list[dict], first: int | None = None) -> dict:
    """Mean and standard error of every per-image score; seconds and evaluations per image; failures.
    With `first`, over images 0 .. first - 1 of the spec only."""
    if first is not None:
        records = [_first(r, first) for r in records if r["images"][0] < first]
    ok = [r for r in records if "error" not in r]
    out = {"images": sum(len(r["images"]) for r in ok), "failed_batches": [r for r in records if "error" in r]}
    if not ok:
        return out
    for key in (*METRICS, "label_correct", "uncertainty_corr"):
        v = torch.tensor([x for r in ok for x in r.get(key, [])], dtype=torch.float64)
        v = v[v.isfinite()]
        if len(v):
            out[key] = {"mean": v.mean().item(), "se": (v.std() / math.sqrt(len(v))).item() if len(v) > 1 else 0.0}
    moments = [r["uncertainty_moments"] for r in ok if "uncertainty_moments" in r]
    if moments:  # the pooled per-pixel correlation over all images
        n, sa, sb, saa, sbb, sab = (sum(m[i] for m in moments) for i in range(6))
        cov, va, vb = sab / n - sa * sb / n ** 2, saa / n - (sa / n) ** 2, sbb / n - (sb / n) ** 2
        out["uncertainty_corr_pooled"] = cov / math.sqrt(max(va * vb, 1e-30))
    out["seconds_per_image"] = sum(r["seconds"] for r in ok) / out["images"]
    out["nfe_per_image"] = ok[0]["nfe"]
    return out


def run(spec: Spec, out_dir: str | Path, run_dir: str | Path, n: int | None = None, only: list[str] | None = None,
        progress: bool = True) -> dict:
    """Run (or resume) every method of `spec` on its images; write <out_dir>/<name>.json, .md and .png.

    Under torchrun the ranks take the batches in turn and rank 0 writes the records and the outputs;
    every batch's noise, mask and restarts are seeded by its first image, so the numbers do not
    depend on the number of processes."""
    from tqdm.auto import tqdm

    from .autoencoder import load

    torch.manual_seed(0)
    x_all, labels_all = load_images(spec.data)
    if n is not None:
        x_all, labels_all = x_all[:n], None if labels_all is None else labels_all[:n]
    model = load(spec.model)
    run_dir = Path(run_dir) / spec.name
    run_dir.mkdir(parents=True, exist_ok=True)
    batch, seed = int(spec.data.get("batch", 50)), int(spec.data.get("seed", 0))
    methods = {k: v for k, v in spec.methods.items() if not only or k in only}
    figure = [i for i in spec.figure_images if i < len(x_all)]
    records: dict[str, list[dict]] = {}
    d = setup_distributed()  # under torchrun, the ranks share each method's batches round-robin
    for name, m in methods.items():
        log = run_dir / f"{name}.jsonl"
        done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        # A record counts only for this very method, operator, images and (PaGoDA) resolved task settings:
        # a change to configs/tasks.toml makes the old records stale.
        key = {"method": m, "operator": spec.operator, "data": spec.data,
               **({"settings": to_dict(task_settings(spec.task, m.get("settings"), spec.model))} if m["method"] == "pagoda" else {})}
        done = [r for r in done if r["spec"] == key]
        starts = {r["start"] for r in done}
        chunk, n_m = int(m.get("batch", batch)), min(len(x_all), int(m.get("n", len(x_all))))
        todo = [s for s in range(0, n_m, chunk) if s not in starts]
        mine = todo[d.rank::d.world]
        bar = tqdm(total=len(todo), desc=name, disable=not (progress and d.is_main))
        for k in range(-(-len(todo) // d.world)):
            rec = None
            if k < len(mine):
                start = mine[k]
                # The measurement of the whole data batch, then this method's part of it.
                b0 = start - start % batch
                g = torch.Generator().manual_seed(seed * 1_000_003 + b0)
                physics = make_physics(spec.operator, tuple(x_all.shape[-2:]), seed * 1_000_003 + b0)
                part = slice(start - b0, min(start + chunk, n_m) - b0)
                x = x_all[b0:b0 + batch][part]
                y = physics(x_all[b0:b0 + batch], g)[part]
                lab = None if labels_all is None else labels_all[b0:b0 + batch][part]
                rec = {"spec": key, "start": start,
                       "images": list(range(start, start + len(x)))}
                try:
                    t = time.time()
                    x_hat, extra = run_method(m, model, y, physics, lab, spec.task)
                    rec["seconds"] = time.time() - t
                    rec["nfe"] = nfe(m, model, spec.task) * extra.get("tiles", 1)
                    rec.update(score(x_hat, x, extra))
                    if start == 0:
                        rows = [i for i in figure if i < len(x)]
                        checkpoint.save(run_dir / f"{name}_figure.safetensors",
                                        {"x_hat": x_hat[rows], "y": y[rows], "x": x[rows]}, {"kind": "figure"})
                except Exception as e:  # a failure is recorded, not fatal
                    rec["error"] = f"{type(e).__name__}: {e}"
                    rec["traceback"] = traceback.format_exc(limit=3)
            new = [rec]
            if d.world > 1:
                new = [None] * d.world
                torch.distributed.all_gather_object(new, rec)
            new = [r for r in new if r is not None]
            if d.is_main:  # one writer; a killed run loses at most this round
                with open(log, "a") as f:
                    f.writelines(json.dumps(r) + "\n" for r in new)
            done.extend(new)
            bar.update(len(new))
        bar.close()
        done.sort(key=lambda r: r["start"])
        records[name] = done
    result = {"spec": spec.name, "title": spec.title, "task": spec.task, "model": spec.model, "operator": spec.operator,
              "data": {**spec.data, "n": len(x_all)}, "threads": torch.get_num_threads(),
              "methods": {name: {"config": methods[name], **summarise(records[name])} for name in methods}}
    # Methods run on only the first n images (DPS) are compared with the others on those images.
    common = min(min(len(x_all), int(m.get("n", len(x_all)))) for m in methods.values()) if methods else 0
    if common < len(x_all):
        result["common_images"] = common
        for name in methods:
            result["methods"][name]["on_common_images"] = summarise(records[name], common)
    if d.world > 1:
        torch.distributed.barrier()  # every figure file is written before rank 0 reads them
    if not d.is_main:
        return result
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{spec.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / f"{spec.name}.md").write_text(markdown(result) + "\n")
    figure_path(result, run_dir, out_dir / f"{spec.name}.png")
    return result


def markdown(result: dict) -> str:
    lines = [f"**{result['title'] or result['spec']}** ({result['data']['n']} images; mean +- standard error)", "",
             "| method | images | PSNR (dB) | SSIM | LPIPS AlexNet | LPIPS VGG | s / image | evaluations / image | class right |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in result["methods"].items():
        if "psnr" not in r:
            lines.append(f"| {name} | failed: {r['failed_batches'][0]['error'] if r['failed_batches'] else 'no images'} |")
            continue
        cell = lambda k, f: f"{r[k]['mean']:{f}} +- {r[k]['se']:{f}}"  # noqa: E731
        acc = f"{100 * r['label_correct']['mean']:.1f}%" if "label_correct" in r else ""
        lines.append(f"| {name} | {r['images']} | {cell('psnr', '.2f')} | {cell('ssim', '.3f')} | {cell('lpips_alex', '.4f')} | "
                     f"{cell('lpips_vgg', '.4f')} | {r['seconds_per_image']:.3f} | {r['nfe_per_image'] or ''} | {acc} |")
    if "common_images" in result:
        n = result["common_images"]
        lines += ["", f"On the first {n} images, which every method ran on:", "",
                  "| method | PSNR (dB) | SSIM | LPIPS AlexNet | LPIPS VGG | s / image |", "| --- | --- | --- | --- | --- | --- |"]
        for name, r in result["methods"].items():
            c = r.get("on_common_images", {})
            if "psnr" in c:
                lines.append(f"| {name} | {c['psnr']['mean']:.2f} | {c['ssim']['mean']:.3f} | {c['lpips_alex']['mean']:.4f} | "
                             f"{c['lpips_vgg']['mean']:.4f} | {c['seconds_per_image']:.3f} |")
    return "\n".join(lines)


def figure_path(result: dict, run_dir: Path, path: Path) -> None:
    """Rows: figure images; columns: the input (nearest-upsampled to the output size), each method, the truth."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .data.images import to_uint8
    from .data.resize import upsample_nearest

    figs = {n: checkpoint.load(run_dir / f"{n}_figure.safetensors")[0] for n in result["methods"]
            if (run_dir / f"{n}_figure.safetensors").exists()}
    if not figs:
        return
    first = max(figs.values(), key=lambda f: len(f["x"]))  # a method run on fewer images may show fewer rows
    x, y = first["x"], first["y"]
    cols = [("input", upsample_nearest(y, tuple(x.shape[-2:])))] + [(n, f["x_hat"]) for n, f in figs.items()] + [("truth", x)]
    rows = len(x)
    fig, axes = plt.subplots(rows, len(cols), figsize=(1.3 * len(cols), 1.3 * rows + 0.3), squeeze=False)
    for j, (title, imgs) in enumerate(cols):
        for i in range(rows):
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if i < len(imgs):
                a = to_uint8(imgs[i].clamp(0, 1))
                axes[i, j].imshow(a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        axes[0, j].set_title(title.replace("_", " "), fontsize=7)
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=110)
    plt.close(fig)
