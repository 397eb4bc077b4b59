"""This project's operators as deepinv DecomposablePhysics (A = U diag(s) V^T), the form DDRM needs.
Needs deepinv; importing this module does not.

deepinv keeps the singular values `mask` in the shape of V^T x (one per coefficient, 0 where A sees
nothing); U maps those coefficients to y's space and U^T back, so U U^T = I on y.
- Inpainting (one mask for the batch): U = V = I, s = the mask.
- Downsampling by a power of two (average pooling, A A^T = I / f^2): V^T is an orthonormal transform
  of each f x f block whose first row is constant (svd_downsampling); exact.
- Blur (one kernel): deepinv's BlurFFT, the same kernel with CIRCULAR padding (circular_blur). This
  project's Blur pads by reflection by default, so DDRM then solves a slightly different operator
  than the one y was made with: the two agree exactly at pixels farther than the kernel's radius
  from the border and differ only in that band.
"""
import torch
import torch.nn.functional as F

from ..physics import Blur, Downsampling, Inpainting


def hadamard(n: int, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """The orthonormal Sylvester-Hadamard matrix of size n (a power of two): H H^T = I, and its
    first row is the constant 1 / sqrt(n)."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"hadamard: n must be a power of two, got {n}")
    H = torch.ones(1, 1, dtype=torch.float64)
    while H.shape[0] < n:  # H_2m = [[H_m, H_m], [H_m, -H_m]]
        H = torch.cat([torch.cat([H, H], 1), torch.cat([H, -H], 1)], 0)
    return (H / n ** 0.5).to(dtype=dtype, device=device)


def _block_transform(x: torch.Tensor, M: torch.Tensor, f: int) -> torch.Tensor:
    """M (f^2 x f^2) applied to each f x f block of x; coefficient k of the block at rows i f.., columns
    j f.. is stored at pixel (i f + k // f, j f + k % f) (pixel_unshuffle's order)."""
    b, c, h, w = x.shape
    blocks = F.pixel_unshuffle(x, f).reshape(b, c, f * f, h // f, w // f)
    out = torch.einsum("kl,bclhw->bckhw", M.to(x), blocks)
    return F.pixel_shuffle(out.reshape(b, c * f * f, h // f, w // f), f)


def svd_downsampling(factor: int, x_shape: tuple[int, int, int], sigma: float = 0.0, device="cpu"):
    """Downsampling(factor).A, average pooling by a power-of-two `factor` on images of `x_shape`
    (C, H, W), as a deepinv DecomposablePhysics with Gaussian noise of std `sigma`:
        V^T = the orthonormal Hadamard transform H of each factor x factor block (H's first row is
              constant 1 / f, so coefficient 0 is the block sum / f),
        s   = 1 / f on coefficient 0 of each block, 0 elsewhere,
        U   = the coefficient-0 pixels (i f, j f) as y's pixel (i, j); U^T puts y back there.
    Then A x = U(s V^T x) = (block sum / f) / f, the block mean."""
    import deepinv as dinv

    f = int(factor)
    c, h, w = x_shape
    if f < 1 or f & (f - 1) or h % f or w % f:
        raise ValueError(f"svd_downsampling: the factor must be a power of two dividing {h}x{w}, got {factor}")
    H = hadamard(f * f, device=device)
    mask = torch.zeros(1, c, h, w, device=device)
    mask[..., ::f, ::f] = 1.0 / f

    def U_adjoint(y):
        z = y.new_zeros(*y.shape[:-2], h, w)
        z[..., ::f, ::f] = y
        return z

    return dinv.physics.DecomposablePhysics(
        U=lambda z: z[..., ::f, ::f], U_adjoint=U_adjoint,
        V_adjoint=lambda x: _block_transform(x, H, f), V=lambda z: _block_transform(z, H.T, f),
        mask=mask, noise_model=dinv.physics.GaussianNoise(sigma), device=device)


def circular_blur(kernel: torch.Tensor, x_shape: tuple[int, int, int], sigma: float = 0.0, device="cpu"):
    """deepinv's BlurFFT with this (k_h, k_w) or (1, 1, k_h, k_w) kernel on images of `x_shape`
    (C, H, W): the convolution with CIRCULAR padding, whatever padding the caller's Blur uses, with
    Gaussian noise of std `sigma`. The kernel is given to every channel, so the singular values have
    y's channels (DDRM indexes them with y's shape)."""
    import deepinv as dinv

    kernel = torch.as_tensor(kernel, dtype=torch.float32)
    kernel = kernel[None, None] if kernel.ndim == 2 else kernel
    if kernel.shape[0] != 1:
        raise ValueError(f"circular_blur: one kernel for the batch, got {kernel.shape[0]}")
    c = x_shape[0]
    return dinv.physics.BlurFFT(img_size=tuple(x_shape), filter=kernel.expand(1, c, *kernel.shape[-2:]).to(device),
                                noise_model=dinv.physics.GaussianNoise(sigma), device=device)


def decomposable(physics, x_shape: tuple[int, int, int], sigma: float, device="cpu"):
    """This project's `physics` as a deepinv DecomposablePhysics for images of `x_shape` (C, H, W),
    with noise std `sigma`: Inpainting with one mask, Downsampling by a power of two, Blur with one
    kernel (circular padding: see circular_blur). ValueError for any other operator."""
    import deepinv as dinv

    if isinstance(physics, Inpainting) and physics.mask.shape[0] == 1:
        mask = physics.mask.expand(1, x_shape[0], *physics.mask.shape[-2:])
        return dinv.physics.Inpainting(img_size=tuple(mask.shape[1:]), mask=mask.clone().to(device),
                                       noise_model=dinv.physics.GaussianNoise(sigma), device=device)
    if isinstance(physics, Downsampling) and physics.is_pooling:
        return svd_downsampling(physics.factor, x_shape, sigma, device)
    if isinstance(physics, Blur) and physics.kernel.shape[0] == 1:
        return circular_blur(physics.kernel, x_shape, sigma, device)
    what = type(physics).__name__ + (f" by {physics.factor}" if isinstance(physics, Downsampling) else "")
    raise ValueError(f"ddrm needs a deepinv DecomposablePhysics (e.g. dinv.physics.Inpainting) or this project's "
                     f"Inpainting with one mask, Downsampling by a power of two or Blur with one kernel, not {what}")
