"""A benchmark's result as a Markdown table and a figure (input, each method's output, the truth)."""
from pathlib import Path

from .. import checkpoint


def _evaluations(v: float) -> str:
    """Evaluations per image: whole where every image took the same, else to one decimal; blank for none."""
    return "" if not v else f"{v:.0f}" if v == round(v) else f"{v:.1f}"


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
                     f"{cell('lpips_vgg', '.4f')} | {r['seconds_per_image']:.3f} | {_evaluations(r['nfe_per_image'])} | {acc} |")
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


def write_figure(result: dict, run_dir: Path, path: Path) -> None:
    """Rows: figure images; columns: the input (nearest-upsampled to the output size), each method, the truth.
    Each method's rows are read from RUN_DIR/<method>_figure.safetensors."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..data.images import to_uint8
    from ..data.resize import upsample_nearest

    figs = {n: checkpoint.load(run_dir / f"{n}_figure.safetensors")[0] for n in result["methods"]
            if (run_dir / f"{n}_figure.safetensors").exists()}
    if not figs:
        return
    most = max(figs.values(), key=lambda f: len(f["x"]))  # a method run on fewer images may show fewer rows
    x, y = most["x"], most["y"]
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
