"""The one image loader and writer: files <-> float tensors (C, H, W) in [0, 1]."""
from pathlib import Path

import numpy as np
import torch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class ImageError(Exception):
    """An image could not be read or written; the message says why."""


def load_image(path: str | Path, channels: int | None = None) -> torch.Tensor:
    """Read an image as (C, H, W) float32 in [0, 1]. channels=1 converts to gray, 3 to RGB."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            im.load()
            if channels == 1:
                im = im.convert("L")
            elif channels == 3 or im.mode not in ("L", "RGB"):
                im = im.convert("RGB")
            a = np.asarray(im)
    except (UnidentifiedImageError, OSError) as e:
        raise ImageError(f"{path}: not a readable image ({e.__class__.__name__}); give a PNG or JPEG file") from None
    a = a.astype(np.float32) / 255.0
    if a.ndim == 2:
        a = a[None]
    else:
        a = a.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(a))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) or (H, W, 3) uint8."""
    a = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def save_image(x: torch.Tensor, path: str | Path) -> None:
    """Write a (C, H, W) image in [0, 1] atomically: a failed write leaves no partial file."""
    from PIL import Image

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower(), "PNG")
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
