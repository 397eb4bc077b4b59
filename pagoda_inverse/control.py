"""Controllable generation in PaGoDA's latent space, one decoder evaluation per output image
(PaGoDA, Kim et al., NeurIPS 2024): class-conditional samples (`PaGoDA.sample`), class transfer and interpolation.
Images (B, C, H, W) in [0, 1]."""
import torch
import torch.nn.functional as F


@torch.no_grad()
def transfer(model, x: torch.Tensor, labels, to_labels, resolution: int | None = None) -> torch.Tensor:
    """G(Enc(x, y), y'): encode with the image's class, decode with another. The latent keeps what
    the class does not decide (pose, shape, shading); the decoder draws the new class around it."""
    z = model.encode(x, labels)
    return model.decode(z, to_labels, resolution)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of latents z0, z1 (each (C, H, W)) at fractions t (T,): the norm of a
    Gaussian latent stays typical along the path, unlike a straight line (Shoemake 1985)."""
    a, b = z0.flatten(), z1.flatten()
    omega = torch.arccos((a @ b / (a.norm() * b.norm())).clamp(-1, 1))
    t = t.to(z0)[:, None]
    if omega < 1e-4:  # parallel: the straight line is the arc
        return ((1 - t) * a + t * b).view(-1, *z0.shape)
    return ((torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)).view(-1, *z0.shape)


@torch.no_grad()
def interpolate(model, x_a: torch.Tensor, x_b: torch.Tensor, label_a=None, label_b=None, frames: int = 8,
                resolution: int | None = None, mix_labels: bool = True) -> torch.Tensor:
    """`frames` images (frames, C, H, W) from x_a to x_b (each (1, C, H, W)): their latents slerped and,
    on a class-conditional model, the class either mixed along the path (class weights (1 - t, t)) or
    held at label_a. The end points are G(Enc(x_a)) and G(Enc(x_b))."""
    if frames < 2:
        raise ValueError(f"interpolate needs at least 2 frames, got {frames}")
    t = torch.linspace(0, 1, frames)
    z = slerp(model.encode(x_a, label_a)[0], model.encode(x_b, label_b)[0], t)
    if not model.num_classes:
        return model.decode(z, None, resolution)
    a, b = (F.one_hot(model.check_labels(lab, 1), model.num_classes).float()[0] for lab in (label_a, label_b))
    t = t.to(a)[:, None]
    labels = (1 - t) * a + t * b if mix_labels else a.expand(frames, -1)
    return model.decode(z, labels, resolution)
