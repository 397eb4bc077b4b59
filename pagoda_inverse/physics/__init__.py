"""Degradation operators with deepinv's interface, so a solver written for one runs on the other.

Images are float tensors (B, C, H, W) in [0, 1]; masks are 1 = observed pixel. Every operator
gives `A(x)`, `A_adjoint(y)`, `A_dagger(y)`, a `noise_model` and `physics(x) = noise_model(A(x))`.
- LinearPhysics, conjugate_gradient (base.py): autograd adjoint and CG pseudo-inverse defaults.
- GaussianNoise (noise.py): y + sigma * n, reproducible from a torch.Generator.
- Downsampling (downsampling.py): the project's one resampling rule, pagoda_inverse.data.downsample.
- Inpainting, box_mask, random_mask, mask_from_image (inpainting.py).
- Blur, gaussian_kernel, motion_kernel, kernel_from_image, parse_blur (blur.py): true convolution.
"""
from .base import LinearPhysics, conjugate_gradient
from .blur import BLUR_FORMS, PADDINGS, Blur, gaussian_kernel, kernel_from_image, motion_kernel, parse_blur
from .downsampling import Downsampling
from .inpainting import Inpainting, box_mask, mask_from_image, random_mask
from .noise import GaussianNoise
