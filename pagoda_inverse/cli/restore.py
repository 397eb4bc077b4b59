"""superres, inpaint, deblur: the options make an operator spec (physics.operator_from_spec), the
operator names the task, and solvers.restore (in tiles for a model that tiles) or a classical
method (solvers.classical) restores the image."""
from dataclasses import dataclass

import click

from ..data.fit import SPREAD_GAIN
from .common import (check_class, device_option, fit, label_text, load_autoencoder, model_option, options, out_option,
                     read_image, resize_option, seed_option, write_image)
from .errors import UserError, check_outputs, one_of

METHODS = {"superres": ("pagoda", "bicubic", "lanczos", "bilinear", "nearest"),
           "inpaint": ("pagoda", "biharmonic"),
           "deblur": ("pagoda", "wiener", "richardson-lucy")}


@dataclass
class Options:
    """The options every restoration shares."""
    model_name: str
    out: str
    method: str
    resize: bool
    device: str
    label: int | None
    noise: float
    steps: int | None
    restarts: int | None
    seed: int
    uncertainty: str | None


def restoration_options(task: str):
    return options(
        model_option(task),
        out_option(),
        click.option("--method", type=click.Choice(METHODS[task]), default="pagoda", show_default=True,
                     help="PaGoDA's restoration, or a classical baseline (solvers.classical)."),
        resize_option(),
        device_option(),
        click.option("--label", type=int, default=None,
                     help="Class of the input (default: inferred and printed; by the model's classifier and teacher)."),
        click.option("--noise", type=click.FloatRange(0, None), default=0.0, show_default=True,
                     help="Std of the Gaussian noise already in the input, in [0, 1] units."),
        click.option("--steps", type=click.IntRange(0, None), default=None,
                     help="Latent-optimisation steps (default: the model's for this task)."),
        click.option("--restarts", type=click.IntRange(0, None), default=None,
                     help="Extra chains from perturbed latents, whose spread is --uncertainty (default: the model's)."),
        seed_option("the restarts, --random masks and the Wiener sampler"),
        click.option("--uncertainty", type=click.Path(), default=None,
                     help=f"Also write the per-pixel spread of the restarts: pixel = min(1, {SPREAD_GAIN} std), "
                          f"white = a spread of {1 / SPREAD_GAIN:g} or more."),
    )


def restore_image(image: str, spec: dict, run: Options, inputs=(), compare: str | None = None, latent=None, sides=None,
                  loaded=None):
    """Restore IMAGE through the operator `spec` makes: check every output, read the input, check
    the spec at its size (all before a registered model loads), then restore and write. `latent`
    overrides the latent settings (--native); `sides(model)` gives a non-tiling model's input sides
    and the phrase naming them (default: its decoders' resolutions); a spec's "mask" tensor is drawn
    on IMAGE as read; `loaded` is model_defaults' answer when the command already asked it."""
    from ..physics import operator_from_spec, task_of
    from ..solvers import task_settings
    check_outputs({"--out": run.out, "--uncertainty": run.uncertainty, "--compare": compare}, (image, *inputs))
    y, alpha = read_image(image)
    factor = spec.get("factor", 1)
    spec = {**spec, "noise": run.noise}
    task = task_of(operator_from_spec(spec, (y.shape[-2] * factor, y.shape[-1] * factor), run.seed))
    if run.method != "pagoda":
        return restore_classical(y, alpha, spec, run, compare)
    overrides = {"latent": {"seed": run.seed, **(latent or {}),
                            **{k: v for k, v in (("steps", run.steps), ("restarts", run.restarts)) if v is not None}}}
    defaults, model = loaded or model_defaults(run.model_name, run.device)
    settings = task_settings(task, overrides, defaults)
    if run.uncertainty is not None and settings.latent.restarts == 0:
        raise UserError(f"--uncertainty is the spread of the restarts, and {task} with this model runs none: "
                        "add --restarts 1")
    model = model or load_autoencoder(run.model_name, run.device)
    label = check_class(model, run.label)
    y, alpha = read_image(image, model.channels)
    if not model.tiles:
        allowed, need = sides(model) if sides else (model.resolutions, "this model restores square images of "
                                                    + one_of(f"{s}x{s}" for s in model.resolutions))
        spec = fit_mask(spec, y, allowed)
        y, alpha = fit(y, alpha, image, allowed, need, run.resize)
    physics = operator_from_spec(spec, (y.shape[-2] * factor, y.shape[-1] * factor), run.seed).to(model.device)
    y = y.to(model.device)
    if task == "inpaint":  # the input is x with holes: whatever the missing pixels hold is ignored
        y = physics.A(y)
    x, std = solve(model, y, physics, label, settings)
    write_outputs(x, y, alpha, physics, run, std, compare)


def model_defaults(name: str, device: str):
    """(the model's task defaults, the model if it had to load): a registered model's come from
    the registry without loading it, so a bad option still fails first; a model from files is
    loaded for its own."""
    from ..models import MODELS
    if name in MODELS and MODELS[name].kind == "autoencoder":
        return MODELS[name].tasks, None
    model = load_autoencoder(name, device)
    return model.task_defaults, model


def fit_mask(spec: dict, y, allowed) -> dict:
    """A mask drawn on IMAGE goes through the same crop and resize as IMAGE (the mask rule: thresholded)."""
    from ..data.fit import square_resize, working_side
    if "mask" not in spec:
        return spec
    side = working_side(*y.shape[-2:], allowed)
    return {**spec, "mask": square_resize(spec["mask"], side, "mask")}


def solve(model, y, physics, label, settings):
    """(x, per-pixel spread) by solvers.restore, in blended tiles for a model that tiles."""
    from ..solvers import restore, restore_tiled
    if model.tiles:
        return restore_tiled(model, y, physics, label, settings, progress=True)
    r = restore(model, y, physics, label, settings, progress=True)
    if label is None and r.labels is not None:
        click.echo(f"inferred class {label_text(model, int(r.labels[0]))}")
    return r.x, r.std


def restore_classical(y, alpha, spec: dict, run: Options, compare: str | None):
    """--method other than pagoda: the classical restoration, at the input's own size, no model."""
    from ..physics import operator_from_spec, task_of
    from ..solvers import CLASSICAL, classical
    pagoda_only = [opt for opt, v in (("--label", run.label), ("--steps", run.steps), ("--restarts", run.restarts),
                                      ("--uncertainty", run.uncertainty)) if v is not None]
    if pagoda_only:
        raise UserError(f"{', '.join(pagoda_only)}: only --method pagoda takes {'it' if len(pagoda_only) == 1 else 'them'}")
    factor = spec.get("factor", 1)
    physics = operator_from_spec(spec, (y.shape[-2] * factor, y.shape[-1] * factor), run.seed)
    if task_of(physics) == "inpaint":
        y = physics.A(y)
    seeded = "seed" in CLASSICAL[run.method].options  # the Wiener-Hunt sampler
    x = classical(run.method, y, physics, **({"seed": run.seed} if seeded else {}))
    write_outputs(x, y, alpha, physics, run, None, compare)


def write_outputs(x, y, alpha, physics, run: Options, std, compare: str | None) -> None:
    """The restoration (with the input's alpha), then the spread map and the comparison strip."""
    write_image(x, run.out, alpha)
    click.echo(f"wrote {run.out}: {x.shape[-1]}x{x.shape[-2]} from {y.shape[-1]}x{y.shape[-2]}")
    if run.uncertainty is not None:
        from ..data.fit import spread_map
        write_image(spread_map(std).cpu(), run.uncertainty)
        click.echo(f"wrote {run.uncertainty}: spread mean {std.mean():.4f}, max {std.max():.4f} "
                   f"(white = a spread of {1 / SPREAD_GAIN:g} or more)")
    if compare is not None:
        import torch
        from ..data import make_grid, upsample_nearest
        from ..solvers import classical
        y_in = y.clamp(0, 1).cpu()
        strip = torch.cat([upsample_nearest(y_in, x.shape[-2:]), classical("bicubic", y_in, physics.to("cpu")), x.cpu()])
        write_image(make_grid(strip, nrow=3, pad=2)[None], compare)
        click.echo(f"wrote {compare}: input (nearest) | bicubic | {'PaGoDA' if run.method == 'pagoda' else run.method}")


def superres_sides(scale: int):
    """A non-tiling model super-resolves square inputs whose side times `scale` is a decoder's
    resolution and which are at least the teacher's resolution (the encoder takes y itself)."""
    def sides(model):
        t = model.teacher_resolution
        allowed = [r // scale for r in model.resolutions if r % scale == 0 and r // scale >= t]
        if not allowed:
            ok = sorted({r // s for r in model.resolutions for s in range(t, r) if r % s == 0 and r // s >= 2})
            raise UserError(f"--scale {scale}: this model upscales by {one_of(ok)} "
                            f"(to {one_of(model.resolutions)} px from at least {t} px)")
        return allowed, (f"superres --scale {scale} takes square inputs of "
                         f"{one_of(f'{s}x{s} (to {s * scale}x{s * scale})' for s in allowed)}")
    return sides


@click.command("superres")
@click.argument("image", type=click.Path())
@click.option("--scale", type=click.IntRange(2, None), default=None,
              help="Upscaling factor (default: the model's, 4 for both registered models).")
@click.option("--native", is_flag=True, help="G(Enc(y)) only: no latent optimisation, no data-consistency step.")
@click.option("--compare", type=click.Path(), default=None,
              help="Also write the input (nearest), bicubic and the output side by side, at the output size.")
@restoration_options("superres")
def superres(image, scale, native, compare, **kw):
    """Super-resolve IMAGE (the low-resolution y) by --scale: y = downsample(x) + n.

    The photo model (the default) takes an image of any size, in blended tiles, and writes one
    --scale times larger (scale 2 uses its 32x32 decoder, 4 its 64x64 one). The fmnist model takes
    square inputs: scale 4 takes 8x8 to 32x32; scale 2 takes 8x8 to 16x16 or 16x16 to 32x32.

    \b
    Examples:
      pagoda-inverse superres photo.png -o photo_x4.png --compare side_by_side.png
      pagoda-inverse superres shirt_8.png --model fmnist -o shirt_32.png --uncertainty spread.png
      pagoda-inverse superres photo.png --method lanczos -o photo_lanczos.png"""
    run = Options(**kw)
    latent = None
    if native:
        if run.method != "pagoda" or run.steps or run.restarts or run.uncertainty:
            raise UserError("--native is G(Enc(y)) alone: drop --method, --steps, --restarts and --uncertainty")
        latent = {"steps": 0, "restarts": 0, "model_error": 0.0}
    loaded = None
    if scale is None:  # the model's default (tasks.toml's for a classical method)
        from ..solvers import task_settings
        loaded = model_defaults(run.model_name, run.device) if run.method == "pagoda" else ({}, None)
        scale = task_settings("superres", None, loaded[0]).scale
    restore_image(image, {"kind": "downsampling", "factor": scale}, run, compare=compare, latent=latent,
                  sides=superres_sides(scale), loaded=loaded)


@click.command("inpaint")
@click.argument("image", type=click.Path())
@click.option("--mask", "mask_path", type=click.Path(), default=None,
              help="Mask image of IMAGE's size: white = observed, black = missing.")
@click.option("--box", default=None, help="One missing rectangle: a side S (a centred S x S hole) or TOP,LEFT,HEIGHT,WIDTH.")
@click.option("--random", "fraction", type=float, default=None,
              help="Missing pixels drawn at random: this fraction of them, from --seed.")
@restoration_options("inpaint")
def inpaint(image, mask_path, box, fraction, **kw):
    """Fill in the missing pixels of IMAGE: y = mask * x + n.

    Give exactly one of --mask, --box or --random; whatever IMAGE holds at the missing pixels is
    ignored. The photo model (the default) takes any size, in blended tiles; with fmnist, IMAGE is
    square, of one of its resolutions (8, 16 or 32 px).

    \b
    Examples:
      pagoda-inverse inpaint photo.png --mask holes.png -o filled.png
      pagoda-inverse inpaint shirt.png --model fmnist --box 12 -o filled.png
      pagoda-inverse inpaint photo.png --mask holes.png --method biharmonic -o filled.png"""
    given = [name for name, v in (("--mask", mask_path), ("--box", box), ("--random", fraction)) if v is not None]
    if len(given) != 1:
        raise UserError(f"give exactly one of --mask, --box or --random (got {', '.join(given) if given else 'none'})")
    if box is not None:
        spec = {"box": parse_box(box)}
    elif fraction is not None:
        spec = {"random": fraction}
    else:
        from ..physics import mask_from_image
        image_size = tuple(read_image(image)[0].shape[-2:])  # a bad IMAGE is named before its mask
        spec = {"mask": mask_from_image(mask_path, image_size)}
    restore_image(image, {"kind": "inpainting", **spec}, Options(**kw), inputs=(mask_path,))


def parse_box(box: str) -> int | list[int]:
    try:
        values = [int(v) for v in box.split(",")]
    except ValueError:
        raise UserError(f"--box {box}: give a side S or TOP,LEFT,HEIGHT,WIDTH (integers)") from None
    if len(values) not in (1, 4):
        raise UserError(f"--box {box}: give a side S or TOP,LEFT,HEIGHT,WIDTH")
    return values[0] if len(values) == 1 else values


@click.command("deblur")
@click.argument("image", type=click.Path())
@click.option("--blur", required=True, help="The blur: gaussian:SIGMA, motion:LENGTH,ANGLE or a kernel image file.")
@restoration_options("deblur")
def deblur(image, blur, **kw):
    """Deblur IMAGE: y = k * x + n (true convolution, reflected borders).

    The photo model (the default) takes any size, in blended tiles; with fmnist, IMAGE is square,
    of one of its resolutions (8, 16 or 32 px).

    \b
    Examples:
      pagoda-inverse deblur blurred.png --blur gaussian:1.5 --noise 0.02 -o sharp.png
      pagoda-inverse deblur shirt.png --model fmnist --blur motion:7,0 -o sharp.png
      pagoda-inverse deblur blurred.png --blur gaussian:1.5 --method wiener -o sharp.png"""
    restore_image(image, {"kind": "blur", "blur": blur}, Options(**kw), inputs=(blur,))


COMMANDS = (superres, inpaint, deblur)
