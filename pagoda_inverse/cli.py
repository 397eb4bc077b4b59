"""The `pagoda-inverse` command line. Errors are one line on stderr with a non-zero exit."""
import sys

import click


class UserError(click.ClickException):
    """Bad input: printed as one line, exit code 2, no traceback."""
    exit_code = 2

    def show(self, file=None):
        click.echo(f"error: {self.format_message()}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """PaGoDA autoencoders for inverse problems and controllable generation."""


@main.group()
def train():
    """Train a model from a TOML config (teacher, decoder, classifier)."""


def user_errors():
    from .checkpoint import CheckpointError
    from .config import ConfigError
    from .data import DataError, ImageError
    return (CheckpointError, ConfigError, DataError, ImageError)


def run_options(example: str):
    """The options every `train` subcommand shares."""
    def decorate(f):
        for opt in reversed([
            click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
                         help=f"TOML config (see {example})."),
            click.option("--run-dir", default=None, help="Override train.run_dir."),
            click.option("--resume", is_flag=True, help="Continue from RUN_DIR/checkpoint.safetensors."),
            click.option("--total-steps", type=int, default=None, help="Override train.total_steps."),
            click.option("--max-minutes", type=float, default=None, help="Stop with a checkpoint after this long."),
        ]):
            f = opt(f)
        return f
    return decorate


def run_training(load_config, train_fn, config_path, run_dir, resume, total_steps, max_minutes, **overrides):
    """Load a config, apply the command-line overrides, train; user errors become one line."""
    try:
        cfg = load_config(config_path)
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        for key, value in (("run_dir", run_dir), ("total_steps", total_steps), ("max_minutes", max_minutes)):
            if value is not None:
                setattr(cfg.train, key, value)
        trainer = train_fn(cfg, resume=resume)
    except user_errors() as e:
        raise UserError(str(e))
    if trainer.d.is_main:
        click.echo(f"step {trainer.step}/{cfg.train.total_steps}; state in {trainer.dir}")


@train.command("teacher")
@run_options("pagoda_inverse/configs/teacher_fmnist.toml")
def train_teacher_cmd(**kw):
    """Train the EDM teacher at low resolution (single process, or under torchrun)."""
    from .train.teacher import load_config, train_teacher
    run_training(load_config, train_teacher, **kw)


@train.command("decoder")
@run_options("tests/test_decoder.py for a small one")
@click.option("--stage", type=click.Choice(["base", "grow"]), default=None, help="Override the config's stage.")
def train_decoder_cmd(stage, **kw):
    """Distil the one-step decoder from the teacher (base) or grow it 2x (grow)."""
    from .train.decoder import load_config, train_decoder
    run_training(load_config, train_decoder, stage=stage, **kw)


@train.command("classifier")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="TOML config (see pagoda_inverse/configs/classifier_fmnist.toml).")
def train_classifier_cmd(config_path):
    """Train the Fashion-MNIST classifier behind FID, KID and class accuracy."""
    try:
        from .train.classifier import load_config, train_classifier
        cfg = load_config(config_path)
        m = train_classifier(cfg, command=f"pagoda-inverse train classifier --config {config_path}", log=click.echo)
    except user_errors() as e:
        raise UserError(str(e))
    by_res = ", ".join(f"{r}px {a:.4f}" for r, a in m["test_accuracy_by_resolution_fp32"].items())
    click.echo(f"test accuracy (fp32) {by_res}; wrote {cfg.out} ({m['stored_dtype']})")


@main.command()
@click.argument("image_a", type=click.Path())
@click.argument("image_b", type=click.Path())
@click.option("--net", type=click.Choice(["alex", "vgg"]), default="alex", show_default=True, help="LPIPS trunk.")
def metrics(image_a, image_b, net):
    """PSNR, SSIM and LPIPS between two images of one size."""
    from .data import load_image
    from .metrics import lpips, psnr, ssim
    from .metrics.quality import SSIM_WINDOW_RULE
    try:
        a, b = load_image(image_a), load_image(image_b)
        if a.shape[0] != b.shape[0]:  # one gray, one colour: compare both as RGB
            a, b = load_image(image_a, channels=3), load_image(image_b, channels=3)
        if a.shape != b.shape:
            raise UserError(f"{image_a} is {a.shape[2]}x{a.shape[1]} but {image_b} is {b.shape[2]}x{b.shape[1]}; "
                            "metrics compare images of one size")
        a, b = a[None], b[None]
        d = lpips.lpips_distance(a, b, net=net)
    except user_errors() + (lpips.LPIPSWeightsError,) as e:
        raise UserError(str(e))
    click.echo(f"PSNR  {psnr(a, b).item():.4f} dB (data range 1)")
    click.echo(f"SSIM  {ssim(a, b).item():.4f} ({SSIM_WINDOW_RULE})")
    click.echo(f"LPIPS {d.item():.4f} (v0.1 {net}, trunk from {lpips.lpips_model(net).trunk_source}; {lpips.LPIPS_RESIZE_RULE})")


@main.command()
@click.option("--model", default="fmnist", show_default=True,
              help="Shipped autoencoder, TEACHER,DECODER[,...] files, or a teacher alone (fmnist-teacher) for Heun sampling.")
@click.option("--out", "out_path", default="samples.png", show_default=True, type=click.Path(dir_okay=False), help="PNG grid to write.")
@click.option("--resolution", type=int, default=None, help="Decoder resolution (default: the largest).")
@click.option("--per-class", default=8, show_default=True, type=click.IntRange(1, 64), help="Samples per class (one row each).")
@click.option("--steps", default=18, show_default=True, type=click.IntRange(2, 1000), help="Teacher only: Karras levels of the Heun sampler.")
@click.option("--guidance", default=1.0, show_default=True, type=float, help="Teacher only: classifier-free guidance weight w (1 = none).")
@click.option("--temperature", default=1.0, show_default=True, type=click.FloatRange(0, None, min_open=True),
              help="Decoder only: prior scale, z ~ N(0, (T sigma_max)^2 I).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--scale", default=None, type=click.IntRange(1, 32), help="Nearest-neighbour zoom of the grid (default: to 32 px per image).")
def sample(model, out_path, resolution, per_class, steps, guidance, temperature, seed, scale):
    """Generate a grid of class-conditional samples, one row per class: one decoder step, or the
    teacher's Heun sampler when --model names a teacher."""
    import torch
    from .autoencoder import SHIPPED as AUTOENCODERS
    from .autoencoder import load as load_autoencoder
    from .checkpoint import read_meta
    from .data import make_grid, save_image, upsample_nearest
    from .teacher import SHIPPED as TEACHERS
    from .teacher import heun_samples, load_teacher
    try:
        is_teacher = model in TEACHERS or (model not in AUTOENCODERS and "," not in model
                                           and read_meta(model).get("kind") == "teacher")
        if is_teacher:
            D = load_teacher(model)
            k = max(D.net.cfg.num_classes, 1)
            labels = torch.arange(k).repeat_interleave(per_class) if D.net.cfg.num_classes else None
            x = heun_samples(D, labels, steps, guidance, seed, batch=per_class, progress=True)
            how = f"{2 * steps - 1} network evaluations each"
        else:
            ae = load_autoencoder(model)
            k = max(ae.num_classes, 1)
            labels = torch.arange(k).repeat_interleave(per_class) if ae.num_classes else None
            x = ae.sample(labels, resolution, seed, n=k * per_class, temperature=temperature)
            how = f"one network evaluation each, {x.shape[-1]}x{x.shape[-1]}"
        x = upsample_nearest(x, x.shape[-1] * (scale or max(1, 32 // x.shape[-1])))
        save_image(make_grid(x, nrow=per_class, pad=2), out_path)
    except (ValueError, *user_errors()) as e:
        raise UserError(str(e))
    click.echo(f"wrote {out_path}: {x.shape[0]} samples, {how}")


@main.command("encode")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--label", "labels", required=False, multiple=True, type=int,
              help="Class of the images (one for all, or one per image); class-conditional models need it.")
@click.option("--model", default="fmnist", show_default=True, help="Shipped autoencoder or TEACHER,DECODER[,...] files.")
@click.option("--levels", default=None, type=click.IntRange(2, 10000), help="Encoder levels (default: those the decoders were trained on).")
@click.option("--out", "out_path", default="latents.safetensors", show_default=True, type=click.Path(dir_okay=False))
def encode_cmd(images, labels, model, levels, out_path):
    """Encode images to PaGoDA latents z = Enc(x): the teacher's PF-ODE from data to noise.

    Each image is brought to the teacher's size and channels (antialiased downsampling) first. The
    latents are written with their labels as a safetensors file (tensors z, labels). The fmnist
    model saw 28x28 Fashion-MNIST images padded with 2 black pixels per side to 32x32: frame your
    images the same way."""
    import torch
    from . import checkpoint
    from .autoencoder import load as load_autoencoder
    from .data import downsample, load_image
    try:
        ae = load_autoencoder(model)
        if ae.num_classes and len(labels) not in (1, len(images)):
            raise UserError(f"give one --label for all images or one per image ({len(images)}), not {len(labels)}")
        if ae.num_classes and not labels:
            raise UserError(f"this model is class-conditional: give --label (0..{ae.num_classes - 1})")
        r = ae.teacher_resolution
        x = torch.stack([downsample(load_image(p, channels=ae.channels)[None], r)[0] for p in images])
        y = torch.tensor(labels * (len(images) if len(labels) == 1 else 1)) if ae.num_classes else None
        z = ae.encode(x, y, levels)
        meta = {"kind": "latents", "images": [str(p) for p in images], "levels": levels or ae.levels,
                "teacher_resolution": r, "sigma_max": ae.sigma_max}
        checkpoint.save(out_path, {"z": z, **({"labels": y} if y is not None else {})}, meta)
    except (ValueError, *user_errors()) as e:
        raise UserError(str(e))
    s = z / ae.sigma_max
    click.echo(f"wrote {out_path}: z {tuple(z.shape)}, {levels or ae.levels} levels; z/sigma_max mean {s.mean():.3f} std {s.std():.3f}")


@main.command("benchmark")
@click.argument("spec", type=click.Path())
@click.option("--n", type=click.IntRange(1, None), default=None, help="Only the first N images of the spec.")
@click.option("--only", multiple=True, help="Only these methods (repeatable).")
@click.option("--out-dir", default="benchmarks/results", show_default=True, help="Where the JSON, Markdown and figure go.")
@click.option("--run-dir", default="runs/benchmarks", show_default=True, help="Per-batch records (resumable).")
def benchmark_cmd(spec, n, only, out_dir, run_dir):
    """Run a benchmark task spec (tasks/*.toml): every method on the same images, operator and metrics.

    Example: pagoda-inverse benchmark tasks/inpaint_box.toml --n 100"""
    from . import benchmark
    try:
        s = benchmark.load_spec(spec)
        result = benchmark.run(s, out_dir, run_dir, n, list(only) or None)
    except user_errors() as e:
        raise UserError(str(e))
    click.echo(benchmark.markdown(result))
    click.echo(f"wrote {out_dir}/{s.name}.json, .md and .png")


def run():
    main(prog_name="pagoda-inverse")


if __name__ == "__main__":
    sys.exit(run())
