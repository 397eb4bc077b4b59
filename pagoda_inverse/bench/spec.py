"""A benchmark task spec (tasks/*.toml): read, checked whole before any work, and the images it names.

    task = "inpaint"
    model = "fmnist"
    [operator]   kind = "inpainting", box = 12    (physics.operator_from_spec: random = 0.7, mask = "m.png";
                 downsampling: factor; blur: blur = "gaussian:1.5"; noise = 0.02, std in [0, 1] units)
    [data]       dataset = "fashion_mnist", split = "test", first = 0, n = 500, seed = 0, batch = 50
                 (or dataset = "photos", crop = 256: the four held-out photos' centre crops)
    [methods.NAME]  method = "pagoda" | a classical method | "dps" | "diffpir" | "ddrm" (bench/methods.py)
"""
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import ConfigError, load_toml
from ..diffusion import to_unit_range
from ..models import MODELS
from ..physics import operator_from_spec, task_of
from ..solvers import TASKS
from .methods import check_method

SPEC_KEYS = ("title", "task", "model", "operator", "data", "methods", "figure_images")
DATA_KEYS = ("dataset", "root", "split", "first", "n", "seed", "batch", "crop")
DATA_INTEGERS = {"first": 0, "n": 1, "seed": 0, "batch": 1, "crop": 1}  # key: its least value
DATASETS = ("fashion_mnist", "photos")
FMNIST_SIZE = 32  # data.fashion_mnist_32: the 28x28 images padded to the decoders' 32x32


@dataclass
class Spec:
    name: str
    task: str
    model: str
    operator: dict
    data: dict
    methods: dict
    title: str = ""
    figure_images: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4, 5])

    @property
    def batch(self) -> int:
        """Images per data batch: the unit of measurement noise, random masks and records."""
        return int(self.data.get("batch", 50))

    @property
    def seed(self) -> int:
        return int(self.data.get("seed", 0))


def image_size(data: dict) -> tuple[int, int]:
    """(H, W) of the clean images a [data] table names, without loading them."""
    if data.get("dataset", "fashion_mnist") == "photos":
        return int(data.get("crop", 256)), int(data.get("crop", 256))
    return FMNIST_SIZE, FMNIST_SIZE


def load_images(data: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N, C, H, W) in [0, 1] and the labels (None for photos) of a [data] table's images."""
    if data.get("dataset", "fashion_mnist") == "photos":
        from ..data.photos import validation_crops
        return torch.cat(list(validation_crops(int(data.get("crop", 256))).values())), None
    from ..data import fashion_mnist_32
    x, y = fashion_mnist_32(data.get("split", "test"), data.get("root"))
    first, n = int(data.get("first", 0)), int(data.get("n", 100))
    return to_unit_range(x[first:first + n]), y[first:first + n]


def _check_model(name: str) -> None:
    """A shipped autoencoder's name, or TEACHER,DECODER[,...] files (autoencoder.load checks those)."""
    if "," in name:
        return
    if name not in MODELS or MODELS[name].kind != "autoencoder":
        names = ", ".join(k for k, v in MODELS.items() if v.kind == "autoencoder")
        what = "unknown model" if name not in MODELS else f"a {MODELS[name].kind}, not an autoencoder"
        raise ConfigError(f"model = {name!r}: {what}; use {names} or TEACHER,DECODER[,...] files")


def load_spec(path: str | Path) -> Spec:
    """The spec at `path`, every part checked: an unknown key, task, model, dataset, operator or method
    is a one-line ConfigError here, before any image is loaded."""
    d = load_toml(path)
    where = str(path)
    try:
        unknown = sorted(set(d) - set(SPEC_KEYS))
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown}; known: {', '.join(SPEC_KEYS)}")
        for key in ("task", "operator", "data", "methods"):
            if key not in d:
                raise ConfigError(f"missing {key if key == 'task' else f'[{key}]'}")
        if d["task"] not in TASKS:
            raise ConfigError(f"unknown task {d['task']!r}; use one of {', '.join(TASKS)}")
        for key in ("operator", "data", "methods"):
            if not isinstance(d[key], dict):
                raise ConfigError(f"[{key}] must be a table")
        spec = Spec(Path(path).stem, d["task"], d.get("model", "fmnist"), d["operator"], d["data"], d["methods"],
                    d.get("title", ""), d.get("figure_images", [0, 1, 2, 3, 4, 5]))
        _check_model(spec.model)
        unknown = sorted(set(spec.data) - set(DATA_KEYS))
        if unknown:
            raise ConfigError(f"[data] unknown key(s) {unknown}; known: {', '.join(DATA_KEYS)}")
        for key, low in DATA_INTEGERS.items():
            if key in spec.data and (not isinstance(spec.data[key], int) or spec.data[key] < low):
                raise ConfigError(f"[data] {key} must be an integer >= {low}, not {spec.data[key]!r}")
        if spec.data.get("dataset", "fashion_mnist") not in DATASETS:
            raise ConfigError(f"[data] unknown dataset {spec.data['dataset']!r}; use one of {', '.join(DATASETS)}")
        try:
            physics = operator_from_spec(spec.operator, image_size(spec.data), spec.seed)
        except ValueError as e:
            raise ConfigError(f"[operator] {str(e).removeprefix('operator: ')}") from None
        if task_of(physics) != spec.task:
            raise ConfigError(f"task = {spec.task!r}, but a {spec.operator.get('kind')} operator poses {task_of(physics)}")
        if not spec.methods:
            raise ConfigError("no [methods.NAME] table")
        for name, m in spec.methods.items():
            check_method(name, m, spec.task, spec.batch)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    return spec
