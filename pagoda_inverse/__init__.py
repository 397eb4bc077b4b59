"""pagoda-inverse: PaGoDA autoencoders (a diffusion teacher's PF-ODE encoder and a progressively
grown one-step decoder) for imaging inverse problems and controllable generation."""
__version__ = "0.1.0"


def load(name: str = "fmnist", device="cpu"):
    """The shipped PaGoDA autoencoder `name` (see pagoda_inverse.autoencoder)."""
    from .autoencoder import load as _load
    return _load(name, device)
