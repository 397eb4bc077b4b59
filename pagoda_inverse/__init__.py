"""pagoda-inverse: PaGoDA autoencoders (a diffusion teacher's PF-ODE encoder and a progressively
grown one-step decoder) for imaging inverse problems and controllable generation."""
__version__ = "0.1.0"
