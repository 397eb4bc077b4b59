"""Datasets, held in memory as tensors: images in [-1, 1] (the model range), int64 labels.

Fashion-MNIST comes from the four gzipped IDX files (Debian's `dataset-fashion-mnist` installs
them in /usr/share/datasets/fashion-mnist) or any folder holding them; an image folder gives
one class per sub-folder so researchers can train on their own pictures.
"""
import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..diffusion import to_model_range, to_unit_range
from .errors import DataError
from .images import IMAGE_SUFFIXES, load_image
from .resize import degrade_mix, downsample

LOWRES = ("downsample", "mix")  # how training images reach a lower resolution (load_training_data)

FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_IDX_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
              "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not): magic 0x0000 0x08 ndim, big-endian dims, uint8 data."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise DataError(f"{path}: header says {dims} but holds {array.size} bytes")
    return array.reshape(dims)


def fashion_mnist_dir(root: str | Path | None = None) -> Path:
    candidates = [Path(root)] if root else [Path(p) for p in
                                           ([os.environ["PAGODA_FASHION_MNIST"]] if "PAGODA_FASHION_MNIST" in os.environ else [])
                                           + list(FASHION_MNIST_DIRS)]
    for d in candidates:
        if all((d / f).exists() for files in _IDX_FILES.values() for f in files):
            return d
    raise DataError(
        f"Fashion-MNIST not found in {', '.join(str(c) for c in candidates)}: install it with "
        "`apt-get install dataset-fashion-mnist`, or point --data-dir (or PAGODA_FASHION_MNIST) "
        "at a folder holding the four *-idx?-ubyte.gz files")


def load_fashion_mnist_uint8(split: str = "train", root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw (N, 28, 28) uint8 images and (N,) uint8 labels of one split."""
    if split not in _IDX_FILES:
        raise DataError(f"unknown Fashion-MNIST split {split!r}; use 'train' or 'test'")
    d = fashion_mnist_dir(root)
    images, labels = (read_idx(d / f) for f in _IDX_FILES[split])
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{d}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def fashion_mnist_32(split: str = "train", root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST as (N, 1, 32, 32) in [-1, 1]: 28x28 zero-padded (black) by 2 on each side."""
    images, labels = load_fashion_mnist_uint8(split, root)
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)[:, None]
    x = F.pad(x, (2, 2, 2, 2), value=-1.0)
    return x, torch.from_numpy(labels.astype(np.int64))


def image_folder(root: str | Path, resolution: int, channels: int = 3, lowres: str = "downsample",
                 lowres_seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Every image under root/<class>/ (or directly in root, one class), centre-cropped to a
    square and brought to `resolution` (`lowres`: see load_training_data). Returns images in
    [-1, 1], labels, class names."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir())
    groups = [(p.name, p) for p in subdirs] or [(root.name, root)]
    xs, ys, classes = [], [], []
    for label, (name, folder) in enumerate(groups):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        classes.append(name)
        for f in files:
            img = load_image(f, channels=channels)  # (C, H, W) in [0, 1]
            s = min(img.shape[-2:])
            if s < resolution:
                raise DataError(f"{f} is {img.shape[-1]}x{img.shape[-2]}, smaller than the training resolution {resolution}")
            top, left = (img.shape[-2] - s) // 2, (img.shape[-1] - s) // 2
            img = img[:, top:top + s, left:left + s]
            xs.append(_reduce(to_model_range(img[None]), resolution, lowres, lowres_seed, len(xs))[0])
            ys.append(label)
    if not xs:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {root}")
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64), classes


@dataclass
class DataConfig:
    """Which images to train on and at what resolution."""
    dataset: str = "fashion_mnist"  # or "folder", or "photos" (data/photos.py)
    root: str | None = None  # folder of the IDX files, or the image folder
    resolution: int = 8
    channels: int = 1
    mirror: bool = True  # random horizontal flips during training
    patches: int = 100_000  # "photos": how many 64x64 patches (the first of the seeded stream)
    patch_seed: int = 0


def _reduce(x: torch.Tensor, resolution: int, lowres: str, seed: int, first_index: int) -> torch.Tensor:
    """Images (B, C, H, W) in [-1, 1] at `resolution`: by the project's `downsample`, or ("mix") each
    by its own Pillow kernel and mild blur, rounded to 8 bits, as users' low-resolution images are made."""
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    if lowres == "mix":
        return to_model_range(degrade_mix(to_unit_range(x), resolution, seed, first_index))
    return downsample(x, resolution)


def load_training_data(cfg: DataConfig, split: str = "train", lowres: str = "downsample",
                       lowres_seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(images in [-1, 1] at cfg.resolution, labels, number of classes). `lowres` says how the
    source images reach cfg.resolution: "downsample" (the project's rule, the teacher's data) or
    "mix" (a Pillow kernel and mild blur drawn per image from (lowres_seed, index): the inputs a
    decoder should be robust to)."""
    if lowres not in LOWRES:
        raise DataError(f"unknown lowres {lowres!r}; use one of {', '.join(LOWRES)}")
    if cfg.dataset == "fashion_mnist":
        x, y = fashion_mnist_32(split, cfg.root)
        if cfg.channels != 1:
            x = x.expand(-1, cfg.channels, -1, -1).contiguous()
        return _reduce(x, cfg.resolution, lowres, lowres_seed, 0), y, len(FASHION_MNIST_CLASSES)
    if cfg.dataset == "folder":
        if cfg.root is None:
            raise DataError("data.dataset = 'folder' needs data.root, the folder of images")
        x, y, classes = image_folder(cfg.root, cfg.resolution, cfg.channels, lowres, lowres_seed)
        return x, y, len(classes)
    if cfg.dataset == "photos":
        from .photos import cached_photo_patches
        if cfg.channels != 3:
            raise DataError("data.dataset = 'photos' is RGB: set data.channels = 3")
        patches, step = cached_photo_patches(cfg.patches, cfg.patch_seed), 5000
        x = torch.cat([_reduce(p.float() / 127.5 - 1, cfg.resolution, lowres, lowres_seed, i * step)
                       for i, p in enumerate(patches.split(step))])
        return x, torch.zeros(len(x), dtype=torch.int64), 0
    raise DataError(f"unknown data.dataset {cfg.dataset!r}; use 'fashion_mnist', 'folder' or 'photos'")
