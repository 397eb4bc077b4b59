"""The one operator factory: an operator from a small dict (a benchmark's [operator] table, the CLI's options).

    {"kind": "downsampling", "factor": 4}          ("filter": "box", the default, or "bicubic")
    {"kind": "inpainting", "box": 12}             (or "box": [top, left, h, w], "random": 0.7, "mask": path or tensor)
    {"kind": "blur", "blur": "gaussian:1.5"}      (or "motion:LENGTH,ANGLE", a kernel image path; "padding": "reflect")

Every kind also takes "noise", the measurement's std in [0, 1] units. A bad spec raises ValueError
with one line that says what was wrong and what to give instead.
"""
from pathlib import Path

import torch

from ..data.errors import ImageError
from .base import LinearPhysics
from .blur import BLUR_FORMS, PADDINGS, parse_blur
from .downsampling import FILTERS, Downsampling
from .inpainting import Inpainting, box_mask, mask_from_image, random_mask

KEYS = {"downsampling": ("factor", "filter"), "inpainting": ("box", "random", "mask"), "blur": ("blur", "padding")}
MASK_SOURCES = ("box", "random", "mask")


def _number(spec: dict, key: str, default=None) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"operator: {key} must be a number, got {value!r}")
    return value


def _noise(spec: dict) -> float:
    noise = _number(spec, "noise", 0.0)
    if not noise >= 0:
        raise ValueError(f"operator: noise is a std >= 0 in [0, 1] units, got {noise}")
    return float(noise)


def _downsampling(spec: dict, size: tuple[int, int], noise: float) -> Downsampling:
    if "factor" not in spec:
        raise ValueError("operator: downsampling needs factor, the integer upscaling factor (e.g. factor = 4)")
    factor = _number(spec, "factor")
    if factor != int(factor) or factor < 1:
        raise ValueError(f"operator: factor must be a positive integer, got {factor}")
    factor = int(factor)
    if size[0] % factor or size[1] % factor:
        raise ValueError(f"operator: the {size[0]}x{size[1]} image is not divisible by factor {factor}; "
                         f"give a factor that divides both sides")
    filter = spec.get("filter", "box")
    if filter not in FILTERS:
        raise ValueError(f"operator: filter must be one of {', '.join(FILTERS)}, got {filter!r}")
    return Downsampling(factor, noise, filter)


def _mask(spec: dict, size: tuple[int, int], seed: int) -> torch.Tensor:
    given = [k for k in MASK_SOURCES if k in spec]
    if len(given) != 1:
        raise ValueError(f"operator: inpainting needs exactly one of box, random or mask, got "
                         f"{', '.join(given) if given else 'none'}")
    h, w = size
    if "box" in spec:
        box = spec["box"]
        if isinstance(box, (list, tuple)) and len(box) == 4 and all(isinstance(v, int) and not isinstance(v, bool) for v in box):
            box = tuple(box)
        elif isinstance(box, bool) or not isinstance(box, int):
            raise ValueError(f"operator: box must be a side S or [top, left, height, width] (integers), got {box!r}")
        side_ok = isinstance(box, tuple) or 1 <= box <= min(h, w)
        if not side_ok:
            raise ValueError(f"operator: box {box} does not fit in the {h}x{w} image; give a side from 1 to {min(h, w)}")
        try:
            return box_mask(size, box)
        except ValueError:
            raise ValueError(f"operator: box {list(box)} (top, left, height, width) does not fit in the {h}x{w} "
                             f"image; give a box inside it") from None
    if "random" in spec:
        missing = _number(spec, "random")
        if not 0 <= missing < 1:
            raise ValueError(f"operator: random is the missing fraction, in [0, 1), got {missing}")
        return random_mask(size, float(missing), seed)
    mask = spec["mask"]
    if isinstance(mask, (str, Path)):
        if not Path(mask).is_file():
            raise ValueError(f"operator: mask {str(mask)!r}: no such file; give a mask image of {h}x{w} (white = observed)")
        try:
            return mask_from_image(mask, size)
        except ImageError as e:
            raise ValueError(f"operator: mask {str(mask)!r}: {e}") from None
    if not torch.is_tensor(mask):
        raise ValueError(f"operator: mask must be an image path or a tensor, got {type(mask).__name__}")
    mask = mask[None, None] if mask.ndim == 2 else mask
    if mask.ndim != 4 or mask.shape[1] != 1 or tuple(mask.shape[-2:]) != (h, w):
        raise ValueError(f"operator: the mask is {tuple(mask.shape)}; give (H, W), (1, 1, H, W) or (B, 1, H, W) "
                         f"with H x W = {h}x{w}, the image's size")
    return mask


def _blur(spec: dict, size: tuple[int, int], noise: float) -> LinearPhysics:
    blur, padding = spec.get("blur"), spec.get("padding", "reflect")
    if not isinstance(blur, (str, Path)):
        raise ValueError(f"operator: blur needs blur = {BLUR_FORMS}; got {blur!r}")
    if padding not in PADDINGS:
        raise ValueError(f"operator: padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
    try:
        return parse_blur(str(blur), noise, padding, size)
    except ImageError as e:
        raise ValueError(f"operator: blur {str(blur)!r}: {e}; expected {BLUR_FORMS}") from None


def operator_from_spec(spec: dict, size: tuple[int, int], seed: int = 0) -> LinearPhysics:
    """The operator `spec` describes, for clean images x of `size` (H, W); a random mask is drawn
    from `seed`."""
    if not isinstance(spec, dict):
        raise ValueError(f"operator: a spec is a table of keys, got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in KEYS:
        raise ValueError(f"operator: kind must be one of {', '.join(KEYS)}, got {kind!r}")
    unknown = sorted(set(spec) - {"kind", "noise", *KEYS[kind]})
    if unknown:
        raise ValueError(f"operator: unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)} for {kind}; "
                         f"its keys: kind, {', '.join(KEYS[kind])}, noise")
    size = (int(size[0]), int(size[1]))
    noise = _noise(spec)
    if kind == "downsampling":
        return _downsampling(spec, size, noise)
    if kind == "inpainting":
        return Inpainting(_mask(spec, size, seed), noise)
    return _blur(spec, size, noise)
