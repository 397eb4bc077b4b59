"""The one image loader and writer: files <-> float tensors (C, H, W) in [0, 1].

Every file mode converts by one rule, MODE_RULE, so the CLI, the training data and the tests read
a file the same way."""
from pathlib import Path

import numpy as np
import torch

from .errors import ImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

MODE_RULE = ("P (palette) -> RGBA if the palette has transparency, else RGB; 16-bit I;16, I;16B, I;16L and I -> "
             "gray, value / 65535 clipped to [0, 1]; 1 (bilevel) -> L; LA, RGBA, PA: the alpha channel is split off, "
             "the colour converts as L or RGB; other modes (CMYK, YCbCr, ...) -> RGB. Then to the channels asked "
             "for: 1 = ITU-R 601 luma (PIL's convert('L') of RGB), 3 = gray replicated")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _decode(im) -> tuple[np.ndarray, np.ndarray | None]:
    """A PIL image -> (colour (H, W) or (H, W, 3), alpha (H, W) or None), float32 in [0, 1] (MODE_RULE)."""
    if im.mode in _SIXTEEN_BIT:  # numpy: PIL's convert("L") clips 16-bit values at 255
        return np.clip(np.asarray(im).astype(np.float32) / 65535.0, 0, 1), None
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode == "1":
        im = im.convert("L")
    alpha = None
    if im.mode in ("LA", "RGBA"):
        alpha = np.asarray(im.getchannel("A")).astype(np.float32) / 255.0
        im = im.convert(im.mode[:-1])
    elif im.mode not in ("L", "RGB"):
        im = im.convert("RGB")
    return np.asarray(im).astype(np.float32) / 255.0, alpha


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of (H, W, 3) in [0, 1]: PIL's convert("L"), so 8-bit files read as PIL reads them."""
    from PIL import Image

    im = Image.fromarray((rgb * 255).round().astype(np.uint8))
    return np.asarray(im.convert("L")).astype(np.float32) / 255.0


def load_image(path: str | Path, channels: int | None = None, with_alpha: bool = False):
    """Read an image as (C, H, W) float32 in [0, 1], converting every file mode by MODE_RULE.

    channels=1 gives gray (ITU-R 601 luma of colour files), 3 gives RGB (gray replicated), None what
    the file holds after MODE_RULE (1 or 3). An alpha channel is never mixed into the image: with
    `with_alpha` it is returned as (image, alpha (1, H, W) or None), otherwise dropped."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty")
    try:
        with Image.open(path) as im:
            im.load()
            colour, alpha = _decode(im)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not a readable image (unknown format); give a PNG or JPEG file") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"{path}: not a readable image ({e}); give a PNG or JPEG file") from None
    if channels == 1 and colour.ndim == 3:
        colour = _luma(colour)
    elif channels == 3 and colour.ndim == 2:
        colour = np.repeat(colour[..., None], 3, axis=2)
    a = colour[None] if colour.ndim == 2 else colour.transpose(2, 0, 1)
    x = torch.from_numpy(np.ascontiguousarray(a))
    if not with_alpha:
        return x
    return x, None if alpha is None else torch.from_numpy(alpha[None].copy())


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) or (H, W, C) uint8."""
    a = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def save_image(x: torch.Tensor, path: str | Path, alpha: torch.Tensor | None = None) -> None:
    """Write a (C, H, W) image in [0, 1] atomically: a failed write leaves no partial file. An
    `alpha` (1, H, W) in [0, 1] of x's size is written with it (LA or RGBA); JPEG cannot hold one."""
    from PIL import Image

    path = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower(), "PNG")
    if not torch.isfinite(x).all():  # NaN would be written as black: a wrong picture, silently
        raise ImageError(f"{path}: the image has NaN or infinite values, so nothing was written; this is a bug, please report it")
    if alpha is not None:
        if tuple(alpha.shape) != (1, *x.shape[-2:]):
            raise ValueError(f"save_image: alpha must be (1, {x.shape[-2]}, {x.shape[-1]}), got {tuple(alpha.shape)}")
        if fmt == "JPEG":
            raise ImageError(f"{path}: JPEG has no alpha channel; write a .png to keep it")
        x = torch.cat([x.detach().cpu().float(), alpha.detach().cpu().float()])
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        Image.fromarray(to_uint8(x)).save(tmp, format=fmt)
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ImageError(f"{path}: cannot write ({e.strerror or e})") from None


def make_grid(x: torch.Tensor, nrow: int, pad: int = 1, pad_value: float = 1.0) -> torch.Tensor:
    """Tile (B, C, H, W) images into one (C, H', W') image, `nrow` images per row."""
    b, c, h, w = x.shape
    ncol = nrow
    nrows = (b + ncol - 1) // ncol
    grid = torch.full((c, nrows * (h + pad) + pad, ncol * (w + pad) + pad), pad_value, dtype=x.dtype)
    for i in range(b):
        r, k = divmod(i, ncol)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = x[i]
    return grid
