"""What the model commands share: the --model, --device, --seed and -o/--out options, reading the
input, loading the model, checking and naming classes, fitting the input to the model's size."""
from pathlib import Path

import click

from .errors import UserError, check_device


def options(*opts):
    """Apply click options in the order listed (they show in --help in that order)."""
    def decorate(f):
        for opt in reversed(opts):
            f = opt(f)
        return f
    return decorate


def model_option(task: str, kinds: tuple[str, ...] = ("autoencoder",)):
    """--model with the registry's default for `task` and its models of `kinds` described in --help."""
    from ..models import MODELS, default_model
    shipped = ", ".join(f"{m.name} ({m.description.split(',')[0]})" for m in MODELS.values() if m.kind in kinds)
    files = "TEACHER,DECODER[,...] files" if "teacher" not in kinds else "TEACHER,DECODER[,...] files or a teacher file"
    return click.option("--model", "model_name", default=default_model(task), show_default=True,
                        help=f"A registered model ({shipped}) or {files}.")


def out_option(default: str | None = None, what: str = "Output image (.png, .jpg or .jpeg).", **kw):
    if default is None:
        return click.option("-o", "--out", required=True, type=click.Path(), help=what, **kw)
    return click.option("-o", "--out", default=default, show_default=True, type=click.Path(), help=what, **kw)


def device_option():
    return click.option("--device", default="cpu", show_default=True, help="torch device: cpu, cuda, cuda:N or mps.")


def seed_option(what: str):
    return click.option("--seed", type=int, default=0, show_default=True, help=f"Seeds {what}.")


def resize_option():
    return click.option("--resize", is_flag=True,
                        help="Centre-crop the input to a square and resize it to the size the model needs.")


def read_image(path: str, channels: int | None = None):
    """(1, C, H, W) in [0, 1] and its alpha (1, 1, H, W) or None, by the one loader (data.MODE_RULE).
    Its ImageError is a one-line error (cli.errors)."""
    from ..data import load_image
    x, alpha = load_image(path, channels, with_alpha=True)
    return x[None], None if alpha is None else alpha[None]


def load_autoencoder(name: str, device: str):
    """An autoencoder by registered name or files, on a device that exists here."""
    from ..autoencoder import load
    from ..models import MODELS
    dev = check_device(device)
    if name in MODELS and MODELS[name].kind != "autoencoder":
        autoencoders = [m.name for m in MODELS.values() if m.kind == "autoencoder"]
        raise UserError(f"--model {name} is a {MODELS[name].kind}; this command needs an autoencoder "
                        f"({', '.join(autoencoders)} or TEACHER,DECODER[,...] files)")
    return load(name, dev)


def label_text(model, k: int) -> str:
    """A class as printed: its index and, where the model names its classes, the name."""
    names = model.class_names
    return f"{k} ({names[k]})" if names else str(k)


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


def infer_class(model, x, of: str = "") -> int:
    """The classifier's class of x (1, C, H, W), printed."""
    import torch
    with torch.no_grad():
        k = int(model.classify(x).argmax(1)[0])
    click.echo(f"inferred class {label_text(model, k)}{of}")
    return k


def fit(x, alpha, path: str, sides, need: str, resize: bool):
    """The input at the square side the model works at (data.fit.working_side); one that is not
    already there is an error naming the size, unless --resize crops and resizes it (with a note)."""
    from ..data.fit import fit_square, working_side
    h, w = x.shape[-2:]
    side = working_side(h, w, sides)
    if (h, w) == (side, side):
        return x, alpha
    if not resize:
        raise UserError(f"{path} is {w}x{h}; {need}; pass --resize to crop and resize it to {side}x{side}")
    crop = "centre-cropped to a square and " if h != w else ""
    click.echo(f"note: {path} {w}x{h} {crop}resized to {side}x{side}")
    return fit_square(x, alpha, side)


def encoder_input(model, path: str, resize: bool):
    """An image for the encoder: square and at least the teacher's resolution (it downsamples itself)."""
    x, _ = read_image(path, model.channels)
    t = model.teacher_resolution
    x, _ = fit(x, None, path, range(t, max(t, *x.shape[-2:]) + 1), f"the encoder takes square images of at least {t}x{t}",
               resize)
    return x.to(model.device)


def write_image(x, out: str, alpha=None) -> None:
    """Write x (1, C, H, W) with the input's alpha, if it had one, resized to x's size."""
    from ..data import save_image
    from ..data.fit import alpha_at
    if alpha is not None and Path(out).suffix.lower() in (".jpg", ".jpeg"):
        click.echo(f"note: {out} is a JPEG, which has no alpha channel: the input's alpha is dropped")
        alpha = None
    if alpha is not None:
        alpha = alpha_at(alpha.float().cpu(), tuple(x.shape[-2:]))[0]
    save_image(x[0].detach().cpu(), out, alpha)
