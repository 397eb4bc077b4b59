"""The photographs the photo model trains on, all offline: scikit-image's bundled photos and the
photographs among two Debian wallpaper packages (docs/photo_data.md lists each with its licence).

Training images are 64x64 patches cropped at random positions from each photo at several scales
(the large wallpapers are downscaled first), with random horizontal flips. Patch i is a function of
(seed, i) alone, so a set of N patches is the first N of an endless reproducible stream; it is cached
as uint8 in data.cache_dir() so the teacher (which sees the patches at 16x16 through `downsample`) and every
decoder stage read the same pixels. VALIDATION photos are never cropped for training.
"""
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch

from .errors import DataError
from .images import load_image
from .resize import downsample

# The four validation photos (issue: held out from all training). skimage's `cat` is `chelsea`,
# and `stereo_motorcycle` holds motorcycle_left with its right-eye twin: neither trains either.
VALIDATION = ("astronaut", "chelsea", "coffee", "motorcycle_left")

# scikit-image photographs used for training (name -> loader attribute). Gray ones are replicated to RGB.
SKIMAGE_PHOTOS = ("rocket", "hubble_deep_field", "immunohistochemistry", "retina", "camera", "brick",
                  "grass", "gravel", "coins", "clock")
PLASMA_DIR = Path("/usr/share/wallpapers")  # Debian plasma-workspace-wallpapers (LGPL-3)
PLASMA_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
                 "Kite", "OneStandsOut", "Path", "summer_1am")
MATE_DIR = Path("/usr/share/backgrounds/mate/nature")  # Debian mate-backgrounds (GPL-2+)
MATE_PHOTOS = ("Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops", "Storm",
               "TwoWings", "Wood", "YellowFlower")
INSTALL_HINT = "run scripts/prepare_photo_data.sh (apt-get install plasma-workspace-wallpapers mate-backgrounds)"

PATCH = 64
MAX_SIDE = 1024  # wallpapers are first downscaled so that their shorter side is at most this
MIN_SIDE = 128  # the smallest scale a photo is cropped at (shorter side)
SCALE_STEP = math.sqrt(2)  # the pyramid of scales: shorter sides MAX_SIDE / sqrt(2)^k down to MIN_SIDE


def skimage_photo(name: str) -> torch.Tensor:
    """A scikit-image photo (astronaut, chelsea, motorcycle_left, rocket, ...) as (3, H, W) in [0, 1]."""
    import skimage.data

    if name in ("motorcycle_left", "motorcycle_right"):
        a = skimage.data.stereo_motorcycle()[0 if name.endswith("left") else 1]
    else:
        a = getattr(skimage.data, name)()
    a = np.asarray(a)
    a = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0)
    a = a[..., :3] if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


def _largest(folder: Path) -> Path:
    files = sorted(folder.glob("*"), key=lambda p: p.stat().st_size)
    if not files:
        raise DataError(f"no image in {folder}; {INSTALL_HINT}")
    return files[-1]


def training_photo_files() -> dict[str, str]:
    """Name -> source ("skimage:<name>" or a file path) of every training photo."""
    sources = {f"skimage/{n}": f"skimage:{n}" for n in SKIMAGE_PHOTOS}
    for n in PLASMA_PHOTOS:
        d = PLASMA_DIR / n / "contents" / "images"
        if not d.is_dir():
            raise DataError(f"wallpaper {d} is missing; {INSTALL_HINT}")
        sources[f"plasma/{n}"] = str(_largest(d))
    for n in MATE_PHOTOS:
        f = MATE_DIR / f"{n}.jpg"
        if not f.is_file():
            raise DataError(f"wallpaper {f} is missing; {INSTALL_HINT}")
        sources[f"mate/{n}"] = str(f)
    return sources


def load_photo(source: str) -> torch.Tensor:
    """(3, H, W) in [0, 1], the shorter side brought to at most MAX_SIDE by `downsample`."""
    x = skimage_photo(source.split(":", 1)[1]) if source.startswith("skimage:") else load_image(source, channels=3)
    h, w = x.shape[-2:]
    if min(h, w) > MAX_SIDE:
        s = MAX_SIDE / min(h, w)
        x = downsample(x[None], (round(h * s), round(w * s)))[0]
    return x


def pyramid(x: torch.Tensor) -> list[torch.Tensor]:
    """The photo at shorter sides min(H, W), / sqrt(2), / 2, ... down to MIN_SIDE, each as uint8."""
    levels, (h, w) = [], x.shape[-2:]
    s = 1.0
    while min(h, w) * s >= MIN_SIDE:
        size = (round(h * s), round(w * s))
        level = x if s == 1.0 else downsample(x[None], size)[0]
        levels.append((level.clamp(0, 1) * 255).round().to(torch.uint8))
        s /= SCALE_STEP
    return levels


def photo_patches(n: int, seed: int = 0, progress: bool = False, sources: list[str] | None = None) -> torch.Tensor:
    """(n, 3, 64, 64) uint8 patches of `sources` (default: the training photos): photo, scale and
    position uniform at random, then a random horizontal flip; patch i depends only on (seed, i)."""
    from tqdm.auto import tqdm

    sources = list(training_photo_files().values()) if sources is None else sources
    photos = [pyramid(load_photo(src)) for src in tqdm(sources, disable=not progress, desc="loading photos")]
    out = torch.empty(n, 3, PATCH, PATCH, dtype=torch.uint8)
    for i in tqdm(range(n), disable=not progress, desc="cropping", miniters=1000):
        g = np.random.default_rng([seed, i])
        levels = photos[g.integers(len(photos))]
        level = levels[g.integers(len(levels))]
        top, left = g.integers(level.shape[1] - PATCH + 1), g.integers(level.shape[2] - PATCH + 1)
        patch = level[:, top:top + PATCH, left:left + PATCH]
        out[i] = patch.flip(-1) if g.random() < 0.5 else patch
    return out


def cached_photo_patches(n: int, seed: int = 0, cache_dir: str | Path | None = None) -> torch.Tensor:
    """photo_patches(n, seed), built once and kept in cache_dir (default: data.cache_dir())."""
    from .. import checkpoint
    from .cache import cache_dir as default_cache_dir

    cache_dir = Path(cache_dir or default_cache_dir())
    identity = {"kind": "photo_patches", "n": n, "seed": seed, "patch": PATCH, "max_side": MAX_SIDE,
                "min_side": MIN_SIDE, "sources": training_photo_files()}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir / f"photo_patches_{n}_{key}.safetensors"
    if path.exists():
        tensors, meta = checkpoint.load(path)
        if meta == identity:
            return tensors["x"]
    x = photo_patches(n, seed, progress=True)
    checkpoint.save(path, {"x": x}, identity)
    return x


def validation_crops(size: int = 256) -> dict[str, torch.Tensor]:
    """The centre size x size of each VALIDATION photo, (1, 3, size, size) in [0, 1] (the photo benchmarks)."""
    out = {}
    for name in VALIDATION:
        x = skimage_photo(name)
        top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
        out[name] = x[None, :, top:top + size, left:left + size].contiguous()
    return out


def validation_patches(n: int, seed: int = 0) -> torch.Tensor:
    """(n, 3, 64, 64) uint8 patches of the held-out VALIDATION photos, drawn as the training patches are."""
    return photo_patches(n, seed, sources=[f"skimage:{name}" for name in VALIDATION])
