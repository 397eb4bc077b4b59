"""The `pagoda-inverse` command line: a thin layer over the API (autoencoder, physics, solvers,
control). Errors are one line on stderr (`error: ...`), exit code 2, and leave no output file."""
import os
import sys
from pathlib import Path

import click

IMAGE_OUT_SUFFIXES = (".png", ".jpg", ".jpeg")


def one_of(items) -> str:
    """"a, b or c": the choices an error message names."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


class UserError(click.ClickException):
    """Bad input: printed as one line, exit code 2, no traceback."""
    exit_code = 2

    def show(self, file=None):
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineErrors(click.Group):
    """Usage errors (a missing option, a value of the wrong type) as one line too, not click's usage block."""

    def main(self, args=None, prog_name=None, **extra):
        extra.pop("standalone_mode", None)
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        except click.UsageError as e:
            where = f" (see {e.ctx.command_path} --help)" if e.ctx is not None else ""
            click.echo(f"error: {e.format_message()}{where}", err=True)
            sys.exit(2)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """PaGoDA autoencoders for inverse problems and controllable generation."""


@main.group()
def train():
    """Train a model from a TOML config (teacher, decoder, srnet, classifier)."""


def user_errors():
    from .checkpoint import CheckpointError
    from .config import ConfigError
    from .data import DataError, ImageError
    return (CheckpointError, ConfigError, DataError, ImageError)


def check_output(path: str, option: str = "--out", suffixes: tuple[str, ...] = IMAGE_OUT_SUFFIXES) -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name")
    if p.suffix.lower() not in suffixes:
        raise UserError(f"{option} {path}: give a {one_of(suffixes)} file name")
    if not p.parent.is_dir():
        raise UserError(f"{option} {path}: the folder {p.parent} does not exist")
    if not os.access(p.parent, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: the folder {p.parent} is not writable")


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


@train.command("srnet")
@run_options("pagoda_inverse/configs/srnet_photo.toml")
def train_srnet_cmd(**kw):
    """Train the plain x4 super-resolution network (SRResNet-like), the photo model's peer."""
    from .train.srnet import load_config, train_srnet
    run_training(load_config, train_srnet, **kw)


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
    """PSNR, SSIM and LPIPS between two images of one size.

    \b
    Example:
      pagoda-inverse metrics restored.png original.png"""
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
@click.option("--out", "out_path", default="samples.png", show_default=True, type=click.Path(), help="PNG grid to write.")
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
    teacher's Heun sampler when --model names a teacher.

    \b
    Example:
      pagoda-inverse sample --per-class 8 --out samples.png"""
    import torch
    from .autoencoder import SHIPPED as AUTOENCODERS
    from .autoencoder import load as load_autoencoder
    from .checkpoint import read_meta
    from .data import make_grid, save_image, upsample_nearest
    from .teacher import SHIPPED as TEACHERS
    from .teacher import heun_samples, load_teacher
    check_output(out_path)
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
@click.option("--out", "out_path", default="latents.safetensors", show_default=True, type=click.Path(),
              help="Latents file to write (safetensors).")
def encode_cmd(images, labels, model, levels, out_path):
    """Encode images to PaGoDA latents z = Enc(x): the teacher's PF-ODE from data to noise.

    Each image is brought to the teacher's size and channels (antialiased downsampling) first. The
    latents are written with their labels as a safetensors file (tensors z, labels). The fmnist
    model saw 28x28 Fashion-MNIST images padded with 2 black pixels per side to 32x32: frame your
    images the same way.

    \b
    Example:
      pagoda-inverse encode shirt.png --label 6 --out latents.safetensors"""
    import torch
    from . import checkpoint
    from .autoencoder import load as load_autoencoder
    from .data import downsample, load_image
    check_output(out_path, suffixes=(".safetensors",))
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

    \b
    Example:
      pagoda-inverse benchmark tasks/inpaint_box.toml --n 100"""
    from . import benchmark
    try:
        s = benchmark.load_spec(spec)
        result = benchmark.run(s, out_dir, run_dir, n, list(only) or None)
    except user_errors() as e:
        raise UserError(str(e))
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, rank 0 wrote the outputs
        click.echo(benchmark.markdown(result))
        click.echo(f"wrote {out_dir}/{s.name}.json, .md and .png")


# ---- The task commands: restoration (superres, inpaint, deblur) and control (transfer, interpolate) ----

SPREAD_GAIN = 4  # --uncertainty: pixel = min(1, 4 std), so white = a spread of 0.25 or more


def model_options(restoration: bool, label: bool = True):
    """The options the task commands share; `restoration` adds those of the solver (restore). The
    restorations default to the photo model (any size, in tiles), class control to fmnist."""
    opts = [
        click.option("--model", "model_name", default="photo" if restoration else "fmnist", show_default=True,
                     help="Shipped autoencoder (photo: RGB photographs, any size; fmnist: Fashion-MNIST, "
                          "class-conditional) or TEACHER,DECODER[,...] files."),
        click.option("-o", "--out", required=True, type=click.Path(), help="Output image (.png, .jpg or .jpeg)."),
        click.option("--resize", is_flag=True,
                     help="Centre-crop the input to a square and resize it to the size the command needs."),
        click.option("--device", default="cpu", show_default=True, help="torch device (cpu, cuda, cuda:1, mps)."),
    ]
    if label:
        opts.append(click.option("--label", type=int, default=None,
                                 help="Class of the input (default: inferred and printed; restorations ask the "
                                      "model's classifier and its teacher, docs/method.md)."))
    if restoration:
        opts += [
            click.option("--noise", type=float, default=0.0, show_default=True,
                         help="Std of the Gaussian noise already in the input, in [0, 1] units."),
            click.option("--steps", type=click.IntRange(0, None), default=None,
                         help="Latent-optimisation steps (default: the task's, in configs/tasks.toml)."),
            click.option("--restarts", type=click.IntRange(0, None), default=None,
                         help="Extra chains from perturbed latents, whose spread is --uncertainty (default: the task's)."),
            click.option("--seed", type=int, default=0, show_default=True, help="Seeds the restarts (and --random masks)."),
            click.option("--uncertainty", type=click.Path(), default=None,
                         help=f"Also write the per-pixel spread of the restarts as an image: pixel = min(1, "
                              f"{SPREAD_GAIN} std), white = a spread of {1 / SPREAD_GAIN:g} or more."),
        ]

    def decorate(f):
        for opt in reversed(opts):
            f = opt(f)
        return f
    return decorate


def read_image(path: str, channels: int | None = None):
    """(1, C, H, W) in [0, 1] and its alpha (1, 1, H, W) or None, by the one loader (data.MODE_RULE)."""
    from .data import ImageError, load_image
    try:
        x, alpha = load_image(path, channels, with_alpha=True)
    except ImageError as e:
        raise UserError(str(e))
    return x[None], None if alpha is None else alpha[None]


def load_model(name: str, device: str):
    import torch
    from .autoencoder import load
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UserError(f"--device {device}: not a torch device; use cpu, cuda, cuda:N or mps") from None
    if (dev.type == "cuda" and not torch.cuda.is_available()) or (dev.type == "mps" and not torch.backends.mps.is_available()):
        raise UserError(f"--device {device}: no such device here; use --device cpu")
    try:
        return load(name, dev)
    except user_errors() as e:
        raise UserError(str(e))


def class_name(model_name: str, k: int) -> str:
    from .data import FASHION_MNIST_CLASSES
    return f"{k} ({FASHION_MNIST_CLASSES[k]})" if model_name == "fmnist" else str(k)


def check_class(model, k: int | None, option: str = "--label") -> int | None:
    """A class from the command line checked against the model; None = to be inferred."""
    n = model.num_classes
    if k is None:
        if n and model.classifier is None:
            raise UserError(f"this model has no classifier to infer the class: give {option} (0..{n - 1})")
        return None
    if not n:
        raise UserError(f"{option} {k}: this model is not class-conditional; drop {option}")
    if not 0 <= k < n:
        raise UserError(f"{option} {k}: not a class of this model; give 0..{n - 1}")
    return k


def infer_class(model, model_name: str, x, of: str = "") -> int:
    """The classifier's class of x (1, C, H, W), printed."""
    import torch
    with torch.no_grad():
        k = int(model.classify(x).argmax(1)[0])
    click.echo(f"inferred class {class_name(model_name, k)}{of}")
    return k


def fit_side(x, path: str, sides, need: str, resize: bool) -> int:
    """The square side the input (1, C, H, W) is worked at: its own when square and in `sides`, else
    the largest of `sides` it covers (or the smallest) with --resize; without it, a one-line error."""
    h, w = x.shape[-2:]
    if h == w and h in sides:
        return h
    side = max((s for s in sides if s <= min(h, w)), default=min(sides))
    if not resize:
        raise UserError(f"{path} is {w}x{h}; {need}; pass --resize to crop and resize it to {side}x{side}")
    return side


def square_resize(t, side: int, kind: str = "image"):
    """Centre-crop (B, C, H, W) to a square, then resize to `side`: images by the project's rule
    (data.downsample down, bicubic up), masks the same then thresholded at 0.5, alpha bilinearly."""
    import torch.nn.functional as F
    from .data import downsample, upsample
    h, w = t.shape[-2:]
    s = min(h, w)
    t = t[..., (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    if s == side:
        return t
    if kind == "alpha":
        return F.interpolate(t, size=(side, side), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    t = downsample(t, side) if side < s else upsample(t, side, "bicubic")
    return (t > 0.5).float() if kind == "mask" else t


def fit_input(x, alpha, side: int, path: str):
    """The input (and its alpha, cropped alike) at the side fit_side chose, with a note when it changed."""
    h, w = x.shape[-2:]
    if (h, w) != (side, side):
        crop = "centre-cropped to a square and " if h != w else ""
        click.echo(f"note: {path} {w}x{h} {crop}resized to {side}x{side}")
    if alpha is not None:
        alpha = square_resize(alpha, min(h, w), "alpha")  # the crop only: resized with the output
    return square_resize(x, side), alpha


def write_output(x, out: str, alpha=None) -> None:
    """Write x (1, C, H, W), with the input's alpha (already cropped as the input was) resized
    bilinearly to x's size when it had one."""
    from .data import ImageError, save_image
    if alpha is not None and Path(out).suffix.lower() in (".jpg", ".jpeg"):
        click.echo(f"note: {out} is a JPEG, which has no alpha channel: the input's alpha is dropped")
        alpha = None
    if alpha is not None and alpha.shape[-2:] != x.shape[-2:]:
        import torch.nn.functional as F
        alpha = F.interpolate(alpha, size=x.shape[-2:], mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    if alpha is not None:
        alpha = alpha[0].cpu()
    try:
        save_image(x[0].cpu(), out, alpha)
    except ImageError as e:
        raise UserError(str(e))


def run_restoration(task: str, image: str, out: str, uncertainty: str | None, model_name: str, device: str,
                    resize: bool, label: int | None, noise: float, steps: int | None, restarts: int | None, seed: int,
                    sides, make_physics, compare: str | None = None, **latent):
    """The body of superres, inpaint and deblur: y -> solvers.restore -> x (and the spread map; for
    superres, `compare` = a strip of the input, bicubic and x at the output size).

    sides(model) -> (the input sides the task takes, a phrase naming them for the error);
    make_physics((h, w), y, noise, seed) -> the operator at the working size, y being the input as
    read (before any --resize); `latent` overrides settings.latent (after the task's defaults, before --steps).
    A model that tiles (unconditional: photos) takes any size as it is, in blended tiles."""
    from .solvers import restore, restore_tiled, task_settings
    check_output(out)
    if uncertainty is not None:
        check_output(uncertainty, "--uncertainty")
        if Path(uncertainty).resolve() == Path(out).resolve():
            raise UserError("--uncertainty and --out name the same file")
    if compare is not None:
        check_output(compare, "--compare")
        if Path(compare).resolve() in {Path(p).resolve() for p in (out, uncertainty) if p is not None}:
            raise UserError("--compare names the same file as another output")
    if noise < 0:
        raise UserError(f"--noise {noise}: a standard deviation is >= 0")
    settings = task_settings(task, model=model_name)
    settings.latent.seed = seed
    for key, value in latent.items():
        setattr(settings.latent, key, value)
    for key, value in (("steps", steps), ("restarts", restarts)):
        if value is not None:
            setattr(settings.latent, key, value)
    if uncertainty is not None and settings.latent.restarts == 0:
        raise UserError(f"--uncertainty is the spread of the restarts, and {task} with this model runs none: add --restarts 1")
    read_image(image)  # a bad file fails before the model loads
    model = load_model(model_name, device)
    label = check_class(model, label)
    y, alpha = read_image(image, model.channels)
    allowed, need = sides(model)
    size = y.shape[-2:] if model.tiles else (fit_side(y, image, allowed, need, resize),) * 2
    try:  # the operator options are user input: a bad blur spec, mask, box or noise level is one line
        physics = make_physics(tuple(size), y, noise, seed).to(model._device())
    except (ValueError, *user_errors()) as e:
        raise UserError(str(e))
    if not model.tiles:
        y, alpha = fit_input(y, alpha, size[0], image)
    y = y.to(model._device())
    if task == "inpaint":  # the input is x with holes: whatever the missing pixels hold is ignored
        y = physics.A(y)
    if model.tiles:
        x, std = restore_tiled(model, y, physics, label, settings, progress=True)
    else:
        r = restore(model, y, physics, label, settings, progress=True)
        x, std = r.x, r.std
        if label is None and r.labels is not None:
            click.echo(f"inferred class {class_name(model_name, int(r.labels[0]))}")
    write_output(x, out, alpha)
    click.echo(f"wrote {out}: {x.shape[-1]}x{x.shape[-2]} from {y.shape[-1]}x{y.shape[-2]}")
    if uncertainty is not None:
        std = std.float().cpu()
        write_output((SPREAD_GAIN * std).clamp(max=1), uncertainty)
        click.echo(f"wrote {uncertainty}: spread mean {std.mean():.4f}, max {std.max():.4f} "
                   f"(white = a spread of {1 / SPREAD_GAIN:g} or more)")
    if compare is not None:
        import torch
        from .data import make_grid, upsample_nearest
        from .solvers import upscale
        y_in = y.clamp(0, 1)
        strip = torch.cat([upsample_nearest(y_in, x.shape[-2:]), upscale(y_in, physics.factor, "bicubic"), x.to(y.device)])
        write_output(make_grid(strip.cpu(), nrow=3, pad=2)[None], compare)
        click.echo(f"wrote {compare}: input (nearest) | bicubic | PaGoDA")


def model_sides(model) -> tuple[list[int], str]:
    """inpaint and deblur restore at the decoders' resolutions."""
    sides = model.resolutions
    return sides, f"this model restores square images of {one_of(f'{s}x{s}' for s in sides)}"


@main.command("superres")
@click.argument("image", type=click.Path())
@click.option("--scale", type=int, default=None, help="Upscaling factor: 4 (default) or 2.")
@click.option("--native", is_flag=True, help="G(Enc(y)) only: no latent optimisation, no data-consistency step.")
@click.option("--compare", type=click.Path(), default=None,
              help="Also write the input (nearest), bicubic and the output side by side, at the output size.")
@model_options(restoration=True)
def superres_cmd(image, scale, native, compare, **kw):
    """Super-resolve IMAGE (the low-resolution y) by --scale: PaGoDA's restoration with y = downsample(x) + n.

    The photo model (the default) takes an image of any size, in blended 16x16 tiles, and writes one
    --scale times larger (scale 2 uses its 32x32 decoder, 4 its 64x64 one). The fmnist model
    takes square inputs: scale 4 takes 8x8 to 32x32; scale 2 takes 8x8 to 16x16 or 16x16 to 32x32.

    \b
    Examples:
      pagoda-inverse superres photo.png -o photo_x4.png --compare side_by_side.png
      pagoda-inverse superres shirt_8.png --model fmnist -o shirt_32.png --uncertainty spread.png"""
    from .physics import Downsampling
    from .solvers import task_settings
    scale = task_settings("superres", model=kw["model_name"]).scale if scale is None else scale
    latent = {}
    if native:
        if kw["steps"] or kw["restarts"]:
            raise UserError("--native runs no latent optimisation: drop --steps and --restarts")
        if kw["uncertainty"]:
            raise UserError("--native runs no restarts, so it has no --uncertainty map: drop one of them")
        kw["steps"], kw["restarts"], latent = 0, 0, {"model_error": 0.0}

    def sides(model):
        sides = [r // scale for r in model.resolutions
                 if scale >= 2 and r % scale == 0 and r // scale >= model.teacher_resolution]
        if not sides:
            ok = sorted({r // t for r in model.resolutions for t in range(model.teacher_resolution, r)
                         if r % t == 0 and r // t >= 2})
            raise UserError(f"--scale {scale}: this model upscales by {one_of(ok)} "
                            f"(to {one_of(model.resolutions)} px from at least {model.teacher_resolution} px)")
        return sides, (f"superres --scale {scale} takes square inputs of "
                       f"{one_of(f'{s}x{s} (to {s * scale}x{s * scale})' for s in sides)}")

    run_restoration("superres", image, sides=sides, make_physics=lambda size, y, noise, seed: Downsampling(scale, noise),
                    compare=compare, **kw, **latent)


@main.command("inpaint")
@click.argument("image", type=click.Path())
@click.option("--mask", "mask_path", type=click.Path(), default=None,
              help="Mask image of IMAGE's size: white = observed, black = missing.")
@click.option("--box", default=None, help="One missing rectangle: a side S (a centred S x S hole) or TOP,LEFT,HEIGHT,WIDTH.")
@click.option("--random", "fraction", type=float, default=None, help="Missing pixels drawn at random: this fraction of them, from --seed.")
@model_options(restoration=True)
def inpaint_cmd(image, mask_path, box, fraction, **kw):
    """Fill in the missing pixels of IMAGE: PaGoDA's restoration with y = mask * x + n.

    Give exactly one of --mask, --box or --random; whatever IMAGE holds at the missing pixels is
    ignored. The photo model (the default) takes any size, in blended 64x64 tiles; with fmnist,
    IMAGE is square, of one of its resolutions (8, 16 or 32 px).

    \b
    Examples:
      pagoda-inverse inpaint photo.png --mask holes.png -o filled.png
      pagoda-inverse inpaint shirt.png --model fmnist --box 12 -o filled.png"""
    from .physics import Inpainting, box_mask, mask_from_image, random_mask
    given = [name for name, v in (("--mask", mask_path), ("--box", box), ("--random", fraction)) if v is not None]
    if len(given) != 1:
        raise UserError(f"give exactly one of --mask, --box or --random (got {', '.join(given) if given else 'none'})")
    if box is not None:
        try:
            box = tuple(int(v) for v in box.split(","))
        except ValueError:
            raise UserError(f"--box {box}: give a side S or TOP,LEFT,HEIGHT,WIDTH (integers)") from None
        if len(box) not in (1, 4):
            raise UserError(f"--box {','.join(map(str, box))}: give a side S or TOP,LEFT,HEIGHT,WIDTH")
        box = box[0] if len(box) == 1 else box

    def make_physics(size, y, noise, seed):
        if mask_path is not None:  # drawn on IMAGE as given: cropped and resized with it
            mask = mask_from_image(mask_path, tuple(y.shape[-2:]))
            mask = mask if tuple(mask.shape[-2:]) == size else square_resize(mask, size[0], "mask")
        elif box is not None:
            mask = box_mask(size, box)
        else:
            mask = random_mask(size, fraction, seed)
        return Inpainting(mask, noise)

    if mask_path is not None:
        read_image(mask_path)  # a bad file fails before the model loads
    run_restoration("inpaint", image, sides=model_sides, make_physics=make_physics, **kw)


@main.command("deblur")
@click.argument("image", type=click.Path())
@click.option("--blur", "spec", required=True, help="The blur: gaussian:SIGMA, motion:LENGTH,ANGLE or a kernel image file.")
@model_options(restoration=True)
def deblur_cmd(image, spec, **kw):
    """Deblur IMAGE: PaGoDA's restoration with y = k * x + n (true convolution, reflected borders).

    The photo model (the default) takes any size, in blended 64x64 tiles; with fmnist, IMAGE is
    square, of one of its resolutions (8, 16 or 32 px).

    \b
    Examples:
      pagoda-inverse deblur blurred.png --blur gaussian:1.5 --noise 0.02 -o sharp.png
      pagoda-inverse deblur shirt.png --model fmnist --blur motion:7,0 -o sharp.png"""
    from .physics import parse_blur
    try:
        parse_blur(spec)  # a bad spec fails before the model loads
    except (ValueError, *user_errors()) as e:
        raise UserError(str(e))
    run_restoration("deblur", image, sides=model_sides, make_physics=lambda size, y, noise, seed: parse_blur(spec, noise),
                    **kw)


def control_input(model, image: str, resize: bool):
    """An image for the encoder: square and at least the teacher's resolution (it downsamples it itself)."""
    x, _ = read_image(image, model.channels)
    t = model.teacher_resolution
    side = fit_side(x, image, range(t, max(t, *x.shape[-2:]) + 1),
                    f"the encoder takes square images of at least {t}x{t}", resize)
    return fit_input(x, None, side, image)[0].to(model._device())


@main.command("transfer")
@click.argument("image", type=click.Path())
@click.option("--to-class", "to_class", type=int, required=True, help="The class to draw IMAGE as.")
@model_options(restoration=False)
def transfer_cmd(image, to_class, model_name, out, resize, device, label):
    """Class transfer: G(Enc(IMAGE, c), c'), IMAGE's latent decoded with another class (control.transfer).

    The latent keeps what the class does not decide (pose, shape, shading). IMAGE is square and at
    least the teacher's resolution (fmnist: 8x8); the output is at the model's largest resolution.
    An alpha channel is dropped: the new class draws a new outline.

    \b
    Example:
      pagoda-inverse transfer shirt.png --to-class 7 -o sneaker.png"""
    from .control import transfer
    check_output(out)
    read_image(image)  # a bad file fails before the model loads
    model = load_model(model_name, device)
    label = check_class(model, label)
    to_class = check_class(model, to_class, "--to-class")
    x = control_input(model, image, resize)
    if model.num_classes and label is None:
        label = infer_class(model, model_name, x)
    x_new = transfer(model, x, label, to_class)
    write_output(x_new, out)
    to = f" as class {class_name(model_name, to_class)}" if model.num_classes else ""
    click.echo(f"wrote {out}: {x_new.shape[-1]}x{x_new.shape[-1]}{to}")


@main.command("interpolate")
@click.argument("image_a", type=click.Path())
@click.argument("image_b", type=click.Path())
@click.option("--steps", type=click.IntRange(2, 256), default=8, show_default=True, help="Images in the strip, ends included.")
@click.option("--label-a", type=int, default=None, help="Class of IMAGE_A (default: inferred, and printed).")
@click.option("--label-b", type=int, default=None, help="Class of IMAGE_B (default: inferred, and printed).")
@click.option("--fixed-class", is_flag=True, help="Hold IMAGE_A's class along the path instead of mixing the two.")
@model_options(restoration=False, label=False)
def interpolate_cmd(image_a, image_b, steps, label_a, label_b, fixed_class, model_name, out, resize, device):
    """A strip of --steps images from IMAGE_A to IMAGE_B: their latents slerped, the class mixed
    along the path (control.interpolate). The ends are G(Enc(IMAGE_A)) and G(Enc(IMAGE_B)).

    \b
    Example:
      pagoda-inverse interpolate shirt.png boot.png --steps 8 -o strip.png"""
    from .control import interpolate
    from .data import make_grid
    check_output(out)
    read_image(image_a), read_image(image_b)  # bad files fail before the model loads
    model = load_model(model_name, device)
    label_a, label_b = check_class(model, label_a, "--label-a"), check_class(model, label_b, "--label-b")
    x_a, x_b = control_input(model, image_a, resize), control_input(model, image_b, resize)
    if model.num_classes:
        label_a = label_a if label_a is not None else infer_class(model, model_name, x_a, f" for {image_a}")
        label_b = label_b if label_b is not None else infer_class(model, model_name, x_b, f" for {image_b}")
    x = interpolate(model, x_a, x_b, label_a, label_b, steps, mix_labels=not fixed_class)
    strip = make_grid(x.cpu(), nrow=steps)
    write_output(strip[None], out)
    click.echo(f"wrote {out}: {steps} images of {x.shape[-1]}x{x.shape[-1]} in a {strip.shape[-1]}x{strip.shape[-2]} strip")


def run():
    main(prog_name="pagoda-inverse")


if __name__ == "__main__":
    sys.exit(run())
