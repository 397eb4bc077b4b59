"""Images of any size through a model of one tile size: overlapping tiles, blended smoothly.

A model restores tiles of `tile` x `tile` input pixels into (scale tile) x (scale tile) outputs.
`tiled` cuts the input into tiles whose neighbours overlap by `overlap` input pixels, runs the
model on batches of them, and blends the outputs with weights that ramp down (raised cosine)
over the overlaps, so no seam shows. Memory is bounded by one batch of tiles plus the output
canvas, whatever the image size.
"""
import math
from typing import Callable

import torch
import torch.nn.functional as F


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis of `size` >= tile pixels: step tile - overlap, the last flush with the end."""
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, {tile}), got {overlap}")
    starts = list(range(0, size - tile + 1, tile - overlap))
    if starts[-1] != size - tile:
        starts.append(size - tile)
    return starts


def blend_window(size: int, ramp: int, device=None) -> torch.Tensor:
    """(size,) weights: a raised-cosine rise over the first `ramp` pixels, 1 in the middle, the
    mirror fall at the end. Never zero, so a pixel covered by one tile keeps its value."""
    w = torch.ones(size, device=device)
    if ramp > 0:
        u = (torch.arange(ramp, device=device) + 0.5) / ramp
        rise = 0.5 - 0.5 * torch.cos(math.pi * u)
        w[:ramp], w[size - ramp:] = rise, rise.flip(0)
    return w


def tiled(fn: Callable[..., torch.Tensor], y: torch.Tensor, *aligned: torch.Tensor, tile: int, scale: int = 1,
          overlap: int | None = None, batch: int = 64, progress: bool = False) -> torch.Tensor:
    """fn(y_tiles, *aligned_tiles) -> (n, C', scale tile, scale tile) applied to every tile of y
    (1, C, H, W) and of the `aligned` tensors (masks: (1, C'', H, W)), blended into (1, C', scale H, scale W).

    An input smaller than the tile is padded (replicate) and the output cropped back. `overlap`
    defaults to a quarter of the tile."""
    from tqdm.auto import tqdm

    if y.ndim != 4 or y.shape[0] != 1:
        raise ValueError(f"tiled: expected one image (1, C, H, W), got {tuple(y.shape)}")
    H, W = y.shape[-2:]
    overlap = tile // 4 if overlap is None else overlap
    ph, pw = max(0, tile - H), max(0, tile - W)
    if ph or pw:
        y = F.pad(y, (0, pw, 0, ph), mode="replicate")
        aligned = tuple(F.pad(t, (0, pw, 0, ph), mode="replicate") for t in aligned)
    boxes = [(t, l) for t in tile_starts(y.shape[-2], tile, overlap) for l in tile_starts(y.shape[-1], tile, overlap)]
    T = tile * scale
    window = blend_window(T, overlap * scale, y.device)
    window = window[:, None] * window[None, :]
    out = weight = None
    for i in tqdm(range(0, len(boxes), batch), disable=not progress, desc="tiles", unit="batch"):
        part = boxes[i:i + batch]
        cut = lambda t: torch.cat([t[..., a:a + tile, b:b + tile] for a, b in part])  # noqa: E731
        x = fn(cut(y), *(cut(t) for t in aligned))
        if out is None:
            out = torch.zeros(1, x.shape[1], y.shape[-2] * scale, y.shape[-1] * scale, device=x.device)
            weight = torch.zeros(1, 1, *out.shape[-2:], device=x.device)
        for (a, b), xt in zip(part, x):
            out[0, :, a * scale:a * scale + T, b * scale:b * scale + T] += xt * window
            weight[0, 0, a * scale:a * scale + T, b * scale:b * scale + T] += window
    return (out / weight)[..., :H * scale, :W * scale]
