"""pagoda-inverse: PaGoDA autoencoders (a diffusion teacher's PF-ODE encoder and a progressively
grown one-step decoder) for imaging inverse problems and controllable generation."""
__version__ = "0.1.0"


def load(name: str = "fmnist", device="cpu"):
    """A PaGoDA autoencoder: a registry name (pagoda_inverse.models.MODELS: "fmnist", "photo") or
    "TEACHER,DECODER[,DECODER...]" files of one's own (see pagoda_inverse.autoencoder.load)."""
    from .autoencoder import load as _load
    return _load(name, device)
