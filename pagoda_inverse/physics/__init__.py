"""Degradation operators with deepinv's interface, so a solver written for one runs on the other.

Images are float tensors (B, C, H, W) in [0, 1]; masks are 1 = observed pixel. Every operator
gives `A(x, **params)`, `A_adjoint(y)`, `A_adjoint_A(x)`, `A_dagger(y)`, a `noise_model`,
`physics(x) = noise_model(A(x))`, its `task`, per-image parameters (`update_parameters`, `select`)
and composition (`outer * inner`).
- LinearPhysics, ComposedPhysics, compose, task_of, conjugate_gradient (base.py): autograd adjoint,
  CG pseudo-inverse, per-image parameters, composition; task_of is the one reader of a task.
- GaussianNoise (noise.py): y + sigma * n, reproducible from a torch.Generator.
- Downsampling (downsampling.py): the project's one resampling rule, pagoda_inverse.data.downsample.
- Inpainting, box_mask, random_mask, mask_from_image (inpainting.py).
- Blur, gaussian_kernel, motion_kernel, kernel_from_image, parse_blur (blur.py): true convolution.
- operator_from_spec (spec.py): the one operator factory, for the benchmarks and the CLI.
"""
from .base import ComposedPhysics, LinearPhysics, compose, conjugate_gradient, task_of
from .blur import BLUR_FORMS, PADDINGS, Blur, gaussian_kernel, kernel_from_image, motion_kernel, parse_blur
from .downsampling import Downsampling
from .inpainting import Inpainting, box_mask, mask_from_image, random_mask
from .noise import GaussianNoise
from .spec import operator_from_spec
