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
@click.option("--model", default="fmnist-teacher", show_default=True, help="Shipped model name or .safetensors path.")
@click.option("--out", "out_path", default="samples.png", show_default=True, type=click.Path(dir_okay=False), help="PNG grid to write.")
@click.option("--per-class", default=8, show_default=True, type=click.IntRange(1, 64), help="Samples per class (one row each).")
@click.option("--steps", default=18, show_default=True, type=click.IntRange(2, 1000), help="Karras levels of the Heun sampler.")
@click.option("--guidance", default=1.0, show_default=True, type=float, help="Classifier-free guidance weight w (1 = none).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--scale", default=4, show_default=True, type=click.IntRange(1, 32), help="Nearest-neighbour zoom of the grid.")
def sample(model, out_path, per_class, steps, guidance, seed, scale):
    """Generate a grid of class-conditional samples, one row per class."""
    import torch
    from .data import make_grid, save_image, upsample_nearest
    from .teacher import heun_samples, load_teacher
    try:
        D = load_teacher(model)
        k = max(D.net.cfg.num_classes, 1)
        labels = torch.arange(k).repeat_interleave(per_class) if D.net.cfg.num_classes else None
        x = heun_samples(D, labels, steps, guidance, seed, batch=per_class, progress=True)
        x = upsample_nearest(x, x.shape[-1] * scale)
        save_image(make_grid(x, nrow=per_class, pad=2), out_path)
    except user_errors() as e:
        raise UserError(str(e))
    click.echo(f"wrote {out_path}: {x.shape[0]} samples, {2 * steps - 1} network evaluations each")


def run():
    main(prog_name="pagoda-inverse")


if __name__ == "__main__":
    sys.exit(run())
