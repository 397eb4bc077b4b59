"""sample, encode, transfer, interpolate: generation and control in PaGoDA's latent space."""
import click

from .common import (check_class, device_option, encoder_input, infer_class, label_text, load_autoencoder,
                     model_option, options, out_option, read_image, resize_option, seed_option, write_image)
from .errors import UserError, check_device, check_outputs


def is_teacher(name: str) -> bool:
    """--model names a teacher: a registered one, or a single file whose kind says so."""
    from ..checkpoint import read_meta
    from ..models import MODELS
    if name in MODELS:
        return MODELS[name].kind == "teacher"
    return "," not in name and read_meta(name).get("kind") == "teacher"


@click.command()
@options(
    model_option("sample", ("autoencoder", "teacher")),
    out_option("samples.png", "PNG grid to write."),
    click.option("--resolution", type=int, default=None, help="Decoder resolution (default: the largest)."),
    click.option("--per-class", default=8, show_default=True, type=click.IntRange(1, 64), help="Samples per class (one row each)."),
    click.option("--levels", default=18, show_default=True, type=click.IntRange(2, 1000),
                 help="Teacher only: Karras levels of the Heun sampler (2 levels - 1 network evaluations)."),
    click.option("--guidance", default=1.0, show_default=True, type=float, help="Teacher only: classifier-free guidance weight w (1 = none)."),
    click.option("--temperature", default=1.0, show_default=True, type=click.FloatRange(0, None, min_open=True),
                 help="Decoder only: prior scale, z ~ N(0, (T sigma_max)^2 I)."),
    click.option("--zoom", default=None, type=click.IntRange(1, 32), help="Nearest-neighbour zoom of the grid (default: to 32 px per image)."),
    seed_option("the prior noise"),
    device_option(),
)
def sample(model_name, out, resolution, per_class, levels, guidance, temperature, zoom, seed, device):
    """Generate a grid of class-conditional samples, one row per class: one decoder step, or the
    teacher's Heun sampler when --model names a teacher.

    \b
    Example:
      pagoda-inverse sample --per-class 8 -o samples.png"""
    import torch
    from ..data import make_grid, save_image, upsample_nearest
    check_outputs({"--out": out})
    if is_teacher(model_name):
        from ..teacher import heun_samples, load_teacher
        D = load_teacher(model_name, check_device(device))
        k = max(D.net.cfg.num_classes, 1)
        labels = torch.arange(k).repeat_interleave(per_class) if D.net.cfg.num_classes else None
        x = heun_samples(D, labels, levels, guidance, seed, batch=per_class, progress=True)
        how = f"{2 * levels - 1} network evaluations each"
    else:
        model = load_autoencoder(model_name, device)
        k = max(model.num_classes, 1)
        labels = torch.arange(k).repeat_interleave(per_class) if model.num_classes else None
        x = model.sample(labels, resolution, seed, n=k * per_class, temperature=temperature)
        how = f"one network evaluation each, {x.shape[-1]}x{x.shape[-1]}"
    x = upsample_nearest(x.cpu(), x.shape[-1] * (zoom or max(1, 32 // x.shape[-1])))
    save_image(make_grid(x, nrow=per_class, pad=2), out)
    click.echo(f"wrote {out}: {x.shape[0]} samples, {how}")


@click.command("encode")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@options(
    click.option("--label", "labels", multiple=True, type=int,
                 help="Class of the images (one for all, or one per image); class-conditional models need it."),
    model_option("encode"),
    click.option("--levels", default=None, type=click.IntRange(2, 10000), help="Encoder levels (default: those the decoders were trained on)."),
    out_option("latents.safetensors", "Latents file to write (safetensors)."),
    resize_option(),
    device_option(),
)
def encode(images, labels, model_name, levels, out, resize, device):
    """Encode images to PaGoDA latents z = Enc(x): the teacher's PF-ODE from data to noise (no
    randomness: the same image gives the same latent).

    Each image is square and at least the teacher's size (--resize crops and resizes one that is
    not); it is brought to the teacher's size (antialiased downsampling) and channels. The latents
    are written with their labels as a safetensors file (tensors z, labels). The fmnist model saw
    28x28 Fashion-MNIST images padded with 2 black pixels per side to 32x32: frame yours the same way.

    \b
    Example:
      pagoda-inverse encode shirt.png --label 6 -o latents.safetensors"""
    import torch
    from .. import checkpoint
    from ..data import downsample
    check_outputs({"--out": out}, images, suffixes=(".safetensors",))
    for path in images:  # bad files fail before the model loads
        read_image(path)
    model = load_autoencoder(model_name, device)
    if model.num_classes and not labels:
        raise UserError(f"this model is class-conditional: give --label (0..{model.num_classes - 1})")
    if model.num_classes and len(labels) not in (1, len(images)):
        raise UserError(f"give one --label for all images or one per image ({len(images)}), not {len(labels)}")
    for k in labels:
        check_class(model, k)
    r = model.teacher_resolution
    x = torch.cat([downsample(encoder_input(model, p, resize), r) for p in images])
    y = torch.tensor(labels * (len(images) if len(labels) == 1 else 1)) if model.num_classes else None
    z = model.encode(x, y, levels)
    meta = {"kind": "latents", "images": [str(p) for p in images], "levels": levels or model.levels,
            "teacher_resolution": r, "sigma_max": model.sigma_max}
    checkpoint.save(out, {"z": z.cpu(), **({"labels": y} if y is not None else {})}, meta)
    s = z / model.sigma_max
    click.echo(f"wrote {out}: z {tuple(z.shape)}, {levels or model.levels} levels; "
               f"z/sigma_max mean {s.mean():.3f} std {s.std():.3f}")


@click.command("transfer")
@click.argument("image", type=click.Path())
@options(
    click.option("--to-class", "to_class", type=int, required=True, help="The class to draw IMAGE as."),
    click.option("--label", type=int, default=None, help="Class of IMAGE (default: inferred by the model's classifier, and printed)."),
    model_option("transfer"),
    out_option(),
    resize_option(),
    device_option(),
)
def transfer(image, to_class, label, model_name, out, resize, device):
    """Class transfer: G(Enc(IMAGE, c), c'), IMAGE's latent decoded with another class (control.transfer).

    The latent keeps what the class does not decide (pose, shape, shading). IMAGE is square and at
    least the teacher's resolution (fmnist: 8x8); the output is at the model's largest resolution.
    An alpha channel is dropped: the new class draws a new outline. No randomness: no --seed.

    \b
    Example:
      pagoda-inverse transfer shirt.png --to-class 7 -o sneaker.png"""
    from ..control import transfer as transfer_class
    check_outputs({"--out": out}, (image,))
    read_image(image)  # a bad file fails before the model loads
    model = load_autoencoder(model_name, device)
    label = check_class(model, label)
    to_class = check_class(model, to_class, "--to-class")
    x = encoder_input(model, image, resize)
    if model.num_classes and label is None:
        label = infer_class(model, x)
    x_new = transfer_class(model, x, label, to_class)
    write_image(x_new, out)
    to = f" as class {label_text(model, to_class)}" if model.num_classes else ""
    click.echo(f"wrote {out}: {x_new.shape[-1]}x{x_new.shape[-1]}{to}")


@click.command("interpolate")
@click.argument("image_a", type=click.Path())
@click.argument("image_b", type=click.Path())
@options(
    click.option("--frames", type=click.IntRange(2, 256), default=8, show_default=True, help="Images in the strip, ends included."),
    click.option("--label-a", type=int, default=None, help="Class of IMAGE_A (default: inferred, and printed)."),
    click.option("--label-b", type=int, default=None, help="Class of IMAGE_B (default: inferred, and printed)."),
    click.option("--fixed-class", is_flag=True, help="Hold IMAGE_A's class along the path instead of mixing the two."),
    model_option("interpolate"),
    out_option(),
    resize_option(),
    device_option(),
)
def interpolate(image_a, image_b, frames, label_a, label_b, fixed_class, model_name, out, resize, device):
    """A strip of --frames images from IMAGE_A to IMAGE_B: their latents slerped, the class mixed
    along the path (control.interpolate). The ends are G(Enc(IMAGE_A)) and G(Enc(IMAGE_B)).

    \b
    Example:
      pagoda-inverse interpolate shirt.png boot.png --frames 8 -o strip.png"""
    from ..control import interpolate as interpolate_latents
    from ..data import make_grid
    check_outputs({"--out": out}, (image_a, image_b))
    read_image(image_a), read_image(image_b)  # bad files fail before the model loads
    model = load_autoencoder(model_name, device)
    label_a, label_b = check_class(model, label_a, "--label-a"), check_class(model, label_b, "--label-b")
    x_a, x_b = encoder_input(model, image_a, resize), encoder_input(model, image_b, resize)
    if model.num_classes:
        label_a = label_a if label_a is not None else infer_class(model, x_a, f" for {image_a}")
        label_b = label_b if label_b is not None else infer_class(model, x_b, f" for {image_b}")
    x = interpolate_latents(model, x_a, x_b, label_a, label_b, frames, mix_labels=not fixed_class)
    strip = make_grid(x.cpu(), nrow=frames)
    write_image(strip[None], out)
    click.echo(f"wrote {out}: {frames} images of {x.shape[-1]}x{x.shape[-1]} in a {strip.shape[-1]}x{strip.shape[-2]} strip")


COMMANDS = (sample, encode, transfer, interpolate)
