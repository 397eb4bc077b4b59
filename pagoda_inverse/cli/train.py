"""train teacher | decoder | srnet | classifier: a TOML config, a few overrides, the trainer."""
import click

from .common import options


@click.group()
def train():
    """Train a model from a TOML config (teacher, decoder, srnet, classifier)."""


def run_options(example: str):
    """The options every trainer shares."""
    return options(
        click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help=f"TOML config (see {example})."),
        click.option("--run-dir", default=None, help="Override train.run_dir."),
        click.option("--resume", is_flag=True, help="Continue from RUN_DIR/checkpoint.safetensors."),
        click.option("--total-steps", type=int, default=None, help="Override train.total_steps."),
        click.option("--max-minutes", type=float, default=None, help="Stop with a checkpoint after this long."),
    )


def run_training(load_config, train_fn, config_path, run_dir, resume, total_steps, max_minutes, **overrides):
    """Load a config, apply the command-line overrides, train."""
    cfg = load_config(config_path)
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    for key, value in (("run_dir", run_dir), ("total_steps", total_steps), ("max_minutes", max_minutes)):
        if value is not None:
            setattr(cfg.train, key, value)
    trainer = train_fn(cfg, resume=resume)
    if trainer.d.is_main:
        click.echo(f"step {trainer.step}/{cfg.train.total_steps}; state in {trainer.dir}")


@train.command("teacher")
@run_options("pagoda_inverse/configs/teacher_fmnist.toml")
def teacher(**kw):
    """Train the EDM teacher at low resolution (single process, or under torchrun)."""
    from ..train.teacher import load_config, train_teacher
    run_training(load_config, train_teacher, **kw)


@train.command("decoder")
@run_options("pagoda_inverse/configs/decoder_fmnist_8.toml")
@click.option("--stage", type=click.Choice(["base", "grow"]), default=None, help="Override the config's stage.")
def decoder(stage, **kw):
    """Distil the one-step decoder from the teacher (base) or grow it 2x (grow)."""
    from ..train.decoder import load_config, train_decoder
    run_training(load_config, train_decoder, stage=stage, **kw)


@train.command("srnet")
@run_options("pagoda_inverse/configs/srnet_photo.toml")
def srnet(**kw):
    """Train the plain x4 super-resolution network (SRResNet-like), the photo model's peer."""
    from ..train.srnet import load_config, train_srnet
    run_training(load_config, train_srnet, **kw)


@train.command("classifier")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="TOML config (see pagoda_inverse/configs/classifier_fmnist.toml).")
def classifier(config_path):
    """Train the Fashion-MNIST classifier behind FID, KID and class accuracy."""
    from ..train.classifier import load_config, train_classifier
    cfg = load_config(config_path)
    m = train_classifier(cfg, command=f"pagoda-inverse train classifier --config {config_path}", log=click.echo)
    by_res = ", ".join(f"{r}px {a:.4f}" for r, a in m["test_accuracy_by_resolution_fp32"].items())
    click.echo(f"test accuracy (fp32) {by_res}; wrote {cfg.out} ({m['stored_dtype']})")
