"""The model registry: every named model's files, kind, classes and task defaults in one entry.

`pagoda_inverse.load(name)` and the CLI's `--model` read it. A model of one's own is given as
files ("TEACHER,DECODER[,...]") and carries its task defaults in its decoder's training config.
"""
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import CheckpointError
from .data.datasets import FASHION_MNIST_CLASSES

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kind: str  # "autoencoder" or "teacher"
    description: str  # one line, shown in --help and errors
    teacher: str | None  # autoencoders: the registry name of their teacher
    files: tuple[Path, ...]  # teacher: (its file,); autoencoder: decoder files, lowest resolution first
    classifier: Path | None = None  # class-conditional autoencoders: the classifier that infers labels
    class_names: tuple[str, ...] | None = None
    # Task defaults on top of configs/tasks.toml's [TASK] sections, shaped like them.
    tasks: dict = field(default_factory=dict)
    missing: str = "reinstall pagoda-inverse"  # what to do when a file is absent


def _weights(*names: str) -> tuple[Path, ...]:
    return tuple(WEIGHTS_DIR / f"{n}.safetensors" for n in names)


# The photo model restores any size in blended tiles (solvers.restore_tiled), so each latent step
# costs one 64x64 decoder evaluation and its gradient per tile: no restarts, few steps or none.
# Its decoders alone drift from the input (docs/photo_model.md); the data-consistency step puts
# the measurement back. Inpainting's and deblurring's steps and lr were picked by tune_solvers.py's
# rule in benchmarks/photo_solver_sweep.py, on the four held-out photos.
PHOTO_TASKS = {
    # G(Enc(y)), then back-projection through the smooth bicubic operator: latent steps cost time and
    # buy little, the box operator's back-projection paints 4x4 blocks (measured: see
    # benchmarks/results/photo_superres.json and photo_ablation/). --restarts 1 gives an uncertainty map.
    "superres": {"latent": {"steps": 0, "restarts": 0, "back_projection": "bicubic"}},
    # From the encoded biharmonic inpainting; Fashion-MNIST's lr 0.1 throws the photo latents off
    # (measured: see benchmarks/results/photo_solver_sweep/picks.json).
    "inpaint": {"latent": {"steps": 30, "lr": 0.01, "restarts": 0}},
    # From the encoded Richardson-Lucy deconvolution, at Fashion-MNIST's lr: the lowest VGG LPIPS
    # on both blurs (measured: see benchmarks/results/photo_solver_sweep/picks.json).
    "deblur": {"latent": {"steps": 10, "restarts": 0}},
}

MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo("fmnist", "autoencoder", "Fashion-MNIST, class-conditional: 8x8 teacher, decoders to 8, 16 and 32 px",
              "fmnist-teacher", _weights("fmnist_decoder_8", "fmnist_decoder_16", "fmnist_decoder_32"),
              WEIGHTS_DIR / "fmnist_classifier.safetensors", FASHION_MNIST_CLASSES),
    ModelInfo("photo", "autoencoder", "natural photos, unconditional, any size in tiles: 16x16 teacher, "
              "decoders to 16, 32 and 64 px", "photo-teacher", _weights("photo_decoder_16", "photo_decoder_32",
                                                                       "photo_decoder_64"), tasks=PHOTO_TASKS),
    ModelInfo("fmnist-teacher", "teacher", "the Fashion-MNIST autoencoder's 8x8 class-conditional diffusion teacher",
              None, _weights("fmnist_teacher"), class_names=FASHION_MNIST_CLASSES),
    ModelInfo("photo-teacher", "teacher", "the photo autoencoder's 16x16 unconditional diffusion teacher",
              None, _weights("photo_teacher")),
    ModelInfo("fmnist-peer-32", "teacher", "a class-conditional diffusion model at the full 32x32, "
              "trained for the CPU time of the Fashion-MNIST teacher and decoders together",
              None, _weights("fmnist_peer_32"), class_names=FASHION_MNIST_CLASSES,
              missing="it is not shipped: train it with `pagoda-inverse train teacher --config "
                      "pagoda_inverse/configs/peer_fmnist_32.toml` and copy runs/peer_fmnist_32/final.safetensors there"),
)}

# The model a task uses when none is named: photos for restorations, Fashion-MNIST for generation.
DEFAULT_MODELS = {"superres": "photo", "inpaint": "photo", "deblur": "photo",
                  "sample": "fmnist", "transfer": "fmnist", "interpolate": "fmnist", "encode": "fmnist"}


def model_info(name: str) -> ModelInfo:
    """The registry entry `name`; an unknown name is a CheckpointError listing the known ones."""
    if name not in MODELS:
        raise CheckpointError(f"unknown model {name!r}: use one of {', '.join(MODELS)} or TEACHER,DECODER[,DECODER...]")
    return MODELS[name]


def default_model(task: str) -> str:
    if task not in DEFAULT_MODELS:
        raise ValueError(f"unknown task {task!r}; use one of {', '.join(DEFAULT_MODELS)}")
    return DEFAULT_MODELS[task]


def existing(path: Path, info: ModelInfo) -> Path:
    """`path`, one of `info`'s files, if it is there; otherwise a one-line CheckpointError saying what to do."""
    if not path.exists():
        raise CheckpointError(f"model {info.name}: {path} is missing; {info.missing}")
    return path
