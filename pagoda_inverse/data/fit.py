"""A user's image brought to the square size a model works at, its alpha channel carried along,
and the spread map of a restoration. Tensors (B, C, H, W) in [0, 1]; no file or console here."""
import torch
import torch.nn.functional as F

from .resize import downsample, upsample

# The spread map: pixel = min(1, SPREAD_GAIN std), so white is a spread of 1 / SPREAD_GAIN or more.
SPREAD_GAIN = 4


def working_side(h: int, w: int, sides) -> int:
    """The square side an h x w image is worked at: its own when square and one of `sides`, else
    the largest of `sides` its shorter side covers (the smallest of them when it covers none)."""
    if h == w and h in sides:
        return h
    return max((s for s in sides if s <= min(h, w)), default=min(sides))


def square_resize(t: torch.Tensor, side: int, kind: str = "image") -> torch.Tensor:
    """Centre-crop to a square, then resize to `side`: images by the project's rule (data.downsample
    down, bicubic up), masks the same then thresholded at 0.5 (they stay 0/1), alpha bilinearly."""
    h, w = t.shape[-2:]
    s = min(h, w)
    t = t[..., (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    if s == side:
        return t
    if kind == "alpha":
        return alpha_at(t, (side, side))
    t = downsample(t, side) if side < s else upsample(t, side, "bicubic")
    return (t > 0.5).float() if kind == "mask" else t


def fit_square(x: torch.Tensor, alpha: torch.Tensor | None, side: int):
    """x cropped to a square and resized to `side`; its alpha cropped alike but left at the crop's
    size, since it is resized once, to whatever size the output has (alpha_at)."""
    if alpha is not None:
        alpha = square_resize(alpha, min(alpha.shape[-2:]), "alpha")
    return square_resize(x, side), alpha


def alpha_at(alpha: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """An alpha channel (B, 1, h, w) resized bilinearly (antialiased) to `size`."""
    if tuple(alpha.shape[-2:]) == tuple(size):
        return alpha
    return F.interpolate(alpha, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def spread_map(std: torch.Tensor) -> torch.Tensor:
    """The per-pixel spread of a restoration's chains as an image: min(1, SPREAD_GAIN std)."""
    return (SPREAD_GAIN * std.float()).clamp(max=1)
