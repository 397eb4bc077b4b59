"""metrics and benchmark: measuring restorations."""
from pathlib import Path

import click

from .common import device_option
from .errors import UserError, check_device, check_folder, rank

PUBLISHED_RESULTS = Path("benchmarks/results")  # the committed tables; written only with --publish


@click.command()
@click.argument("image_a", type=click.Path())
@click.argument("image_b", type=click.Path())
@click.option("--net", type=click.Choice(["alex", "vgg"]), default="alex", show_default=True, help="LPIPS trunk.")
def metrics(image_a, image_b, net):
    """PSNR, SSIM and LPIPS between two images of one size.

    \b
    Example:
      pagoda-inverse metrics restored.png original.png"""
    from ..data import load_image
    from ..metrics import lpips, psnr, ssim
    from ..metrics.quality import SSIM_WINDOW_RULE
    a, b = load_image(image_a), load_image(image_b)
    if a.shape[0] != b.shape[0]:  # one gray, one colour: compare both as RGB
        a, b = load_image(image_a, channels=3), load_image(image_b, channels=3)
    if a.shape != b.shape:
        raise UserError(f"{image_a} is {a.shape[2]}x{a.shape[1]} but {image_b} is {b.shape[2]}x{b.shape[1]}; "
                        "metrics compare images of one size")
    a, b = a[None], b[None]
    d = lpips.lpips_distance(a, b, net=net)
    click.echo(f"PSNR  {psnr(a, b).item():.4f} dB (data range 1)")
    click.echo(f"SSIM  {ssim(a, b).item():.4f} ({SSIM_WINDOW_RULE})")
    click.echo(f"LPIPS {d.item():.4f} (v0.1 {net}, trunk from {lpips.lpips_model(net).trunk_source}; {lpips.LPIPS_RESIZE_RULE})")


@click.command("benchmark")
@click.argument("spec", type=click.Path())
@click.option("--n", type=click.IntRange(1, None), default=None, help="Only the first N images of the spec.")
@click.option("--only", multiple=True, help="Only these methods (repeatable).")
@click.option("-o", "--out", default="runs/benchmark_results", show_default=True,
              help="Folder for the JSON, Markdown and figure.")
@click.option("--publish", is_flag=True, help=f"Write to the committed {PUBLISHED_RESULTS} instead of --out.")
@click.option("--run-dir", default="runs/benchmarks", show_default=True, help="Per-batch records (resumable).")
@click.option("--seed", type=int, default=None, help="Seeds the measurement noise and masks (default: the spec's data.seed).")
@device_option()
def benchmark(spec, n, only, out, publish, run_dir, seed, device):
    """Run a benchmark task spec (tasks/*.toml): every method on the same images, operator and metrics.

    \b
    Examples:
      pagoda-inverse benchmark tasks/inpaint_box.toml --n 10
      pagoda-inverse benchmark tasks/inpaint_box.toml --publish   # all images, into benchmarks/results"""
    from .. import bench
    if publish:
        if out != "runs/benchmark_results":
            raise UserError("--publish writes to benchmarks/results: drop -o/--out")
        if n is not None or only:
            raise UserError("--publish writes the committed tables, which cover every image and method: drop --n and --only")
        out = str(PUBLISHED_RESULTS)
    s = bench.load_spec(spec)
    dev = check_device(device)
    check_folder(Path(out), f"--out {out}", create=True)
    check_folder(Path(run_dir), f"--run-dir {run_dir}", create=True)
    result = bench.run(s, out, run_dir, n, list(only) or None, device=str(dev), seed=seed)
    if rank() == 0:  # under torchrun, rank 0 wrote the outputs
        click.echo(bench.markdown(result))
        click.echo(f"wrote {out}/{s.name}.json, .md and .png")


COMMANDS = (metrics, benchmark)
