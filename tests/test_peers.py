"""deepinv's diffusion solvers with the EDM teacher as prior (solvers/peers.py): the denoiser's
conventions checked by value, DiffPIR, DDRM and DPS on 8x8 Fashion-MNIST, their network evaluations;
the SVD forms DDRM runs on (solvers/peer_physics.py) checked against this project's operators."""
import subprocess
import sys

import pytest
import torch

dinv = pytest.importorskip("deepinv")

from pagoda_inverse.data import downsample, fashion_mnist_32  # noqa: E402
from pagoda_inverse.diffusion import to_unit_range  # noqa: E402
from pagoda_inverse.metrics import psnr  # noqa: E402
from pagoda_inverse.physics import (Blur, Downsampling, Inpainting, motion_kernel, operator_from_spec,  # noqa: E402
                                    random_mask)
from pagoda_inverse.solvers.peer_physics import circular_blur, hadamard, svd_downsampling  # noqa: E402
from pagoda_inverse.solvers.peers import EDMDenoiser, peer_nfe, peer_solver  # noqa: E402
from pagoda_inverse.teacher import load_teacher  # noqa: E402

from conftest import FIXTURE_FMNIST  # noqa: E402


@pytest.fixture(scope="module")
def teacher():
    """The shipped 8x8 teacher, counting its (batched) evaluations in D.calls."""
    D = load_teacher("fmnist-teacher")
    D.calls = 0

    def count(*_):
        D.calls += 1
    D.register_forward_hook(count)
    return D


@pytest.fixture(scope="module")
def images():
    x, c = fashion_mnist_32("test", FIXTURE_FMNIST)
    return to_unit_range(downsample(x[:8], 8)), c[:8]  # [0, 1], as deepinv's solvers take them


def rmse(a, b):
    return ((a - b) ** 2).mean().sqrt().item()


def run(D, solver, y, physics):
    D.calls = 0
    x_hat = solver(y, physics)
    return x_hat, D.calls


@pytest.mark.slow
@torch.no_grad()
def test_denoiser_maps_deepinv_convention_to_edm(teacher, images):
    x, c = images
    s = 0.05  # in [0, 1] units: 0.1 for EDM
    y = x + s * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    den = EDMDenoiser(teacher, c)
    x_hat = den(y, s)
    # Well below the noise (0.47 of it). Skipping the [0, 1] -> [-1, 1] map gives 3x the noise.
    assert rmse(x_hat, x) < 0.6 * rmse(y, x)
    # An MMSE denoiser is best at the true noise level: passing sigma in the wrong units (s for 2 s,
    # or 4 s) is the same as asking at s / 2 or 2 s here, each >= 1.2x worse.
    assert rmse(x_hat, x) < 0.9 * min(rmse(den(y, s / 2), x), rmse(den(y, 2 * s), x))
    # EDM's own convention: [-1, 1] images, sigma in [-1, 1] units; per-image sigma as deepinv may pass it.
    native = EDMDenoiser(teacher, c, pixel_range=(-1, 1))(2 * y - 1, 2 * s)
    assert torch.allclose(native, 2 * x_hat - 1, atol=1e-5)
    assert torch.allclose(den(y, torch.full((len(y),), s)), x_hat, atol=1e-6)
    assert rmse(EDMDenoiser(teacher, None)(y, s), x) < 0.6 * rmse(y, x)  # the null class
    # DDRM's last level is sigma = 0: the identity, to within EDM's sigma_min.
    assert rmse(den(x, 0.0), x) < 2e-3


@pytest.mark.slow
@torch.no_grad()
def test_diffpir_inpaints_with_this_projects_and_deepinvs_operator(teacher, images):
    x, c = images
    mask = random_mask((8, 8), 0.5, seed=0)
    ours, theirs = Inpainting(mask), dinv.physics.Inpainting(img_size=(1, 8, 8), mask=mask[0].clone())
    y = ours(x)
    assert torch.equal(theirs(x), y)
    solver = peer_solver("diffpir", teacher, c, ours, max_iter=20)
    x_ours, nfe = run(teacher, solver, y, ours)
    x_theirs, _ = run(teacher, solver, y, theirs)
    assert nfe == peer_nfe("diffpir", {"max_iter": 20}) == 20
    for x_hat in (x_ours, x_theirs):
        assert x_hat.shape == x.shape and x_hat.min() >= 0 and x_hat.max() <= 1
        assert psnr(x_hat, x).mean() > psnr(y, x).mean() + 5  # 24.8 dB against 14.2 dB
        assert ((x_hat - x) * mask).abs().max() < 0.05  # the observed pixels are kept
    # The CG prox on this project's operator matches deepinv's closed form; the seed fixes the draw.
    assert torch.allclose(x_ours, x_theirs, atol=1e-3)
    assert torch.equal(solver(y, ours), x_ours)


@pytest.mark.slow
@torch.no_grad()
def test_ddrm_inpaints_and_refuses_operators_without_an_svd(teacher, images):
    x, c = images
    mask = random_mask((8, 8), 0.5, seed=1)
    ours, theirs = Inpainting(mask), dinv.physics.Inpainting(img_size=(1, 8, 8), mask=mask[0].clone())
    y = ours(x)
    solver = peer_solver("ddrm", teacher, c, theirs, num_steps=20)
    y_before = y.clone()
    x_theirs, nfe = run(teacher, solver, y, theirs)
    x_ours, _ = run(teacher, solver, y, ours)
    assert torch.equal(y, y_before)  # deepinv's DDRM divides U^T y = y in place; the adapter passes a copy
    assert nfe == peer_nfe("ddrm", {"num_steps": 20}) == 20
    for x_hat in (x_ours, x_theirs):
        assert x_hat.min() >= 0 and x_hat.max() <= 1
        assert psnr(x_hat, x).mean() > psnr(y, x).mean() + 5
        assert ((x_hat - x) * mask).abs().max() < 0.05
    assert torch.allclose(x_ours, x_theirs, atol=1e-5)  # the same operator, noise std and seed
    with pytest.raises(ValueError, match="DecomposablePhysics"):
        peer_solver("ddrm", teacher, c, Downsampling(3))  # not average pooling: no SVD here
    composed = Downsampling(2) * Inpainting(mask)
    with pytest.raises(ValueError, match="DecomposablePhysics"):
        solver(composed(x), composed)


@pytest.mark.slow
def test_dps_superresolves_x2(teacher, images):
    x, c = images
    op = Downsampling(2)
    y = op(x)
    # deepinv's default weight 1 barely guides ("norm" guidance needs ~100 here: its docstring says so).
    solver = peer_solver("dps", teacher, c, op, num_steps=50, weight=100.0)
    x_hat, nfe = run(teacher, solver, y, op)
    assert nfe == peer_nfe("dps", {"num_steps": 50}) == 49
    assert x_hat.shape == x.shape and torch.isfinite(x_hat).all()
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    # Values: the sample fits y (residual 0.011 against 0.14 unguided) and beats A^+ y (24.4 vs 17.4 dB).
    assert rmse(op.A(x_hat), y) < 0.03
    assert psnr(x_hat, x).mean() > psnr(op.A_dagger(y), x).mean() + 3
    assert torch.equal(solver(y, op), x_hat)  # the seed fixes the draw


def test_peer_nfe():
    assert peer_nfe("dps", {}) == 999  # 1000 time steps, none evaluated at t = 0
    assert peer_nfe("diffpir", {}) == 100
    assert peer_nfe("ddrm", {}) == 100
    assert peer_nfe("dps", {"num_steps": 200, "weight": 3.0}) == 199
    assert peer_nfe("diffpir", {"max_iter": 7}) == 7
    with pytest.raises(ValueError, match="unknown peer"):
        peer_nfe("dds", {})
    with pytest.raises(ValueError, match="unknown settings"):
        peer_nfe("diffpir", {"num_steps": 10})


def test_import_does_not_need_deepinv():
    code = ("import sys; sys.modules['deepinv'] = None\n"
            "import pagoda_inverse.solvers.peers as p\n"
            "try:\n    p.EDMDenoiser\nexcept ImportError:\n    print('lazy')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "lazy", out.stderr


def as_matrix(f, shape):
    """The matrix of a linear map of (1, *shape) images, one column per basis image."""
    n = torch.Size(shape).numel()
    return torch.stack([f(e.view(1, *shape)).flatten() for e in torch.eye(n, dtype=torch.float64)], 1)


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_svd_downsampling_is_this_projects_average_pooling(factor):
    shape = (2, 8, 8)
    physics = svd_downsampling(factor, shape)
    V_t = as_matrix(physics.V_adjoint, shape)
    eye = torch.eye(V_t.shape[0], dtype=torch.float64)
    assert torch.allclose(V_t.T @ V_t, eye, atol=1e-12) and torch.allclose(V_t @ V_t.T, eye, atol=1e-12)
    assert torch.allclose(as_matrix(physics.V, shape), V_t.T, atol=1e-12)
    y_shape = (2, 8 // factor, 8 // factor)
    U = as_matrix(physics.U, shape)  # m x n: picks the block-DC coefficients
    assert torch.allclose(U @ U.T, torch.eye(U.shape[0], dtype=torch.float64))
    assert torch.allclose(as_matrix(physics.U_adjoint, y_shape), U.T)
    # A = U diag(s) V^T is this project's Downsampling, and its adjoint too.
    x = torch.rand(3, *shape, generator=torch.Generator().manual_seed(0))
    y = torch.rand(3, *y_shape, generator=torch.Generator().manual_seed(1))
    ours = Downsampling(factor)
    assert torch.allclose(physics.A(x), ours.A(x), atol=1e-6)
    assert torch.allclose(physics.A_adjoint(y), ours.A_adjoint(y), atol=1e-6)
    # Singular values: 1 / f on one coefficient per block, 0 on the f^2 - 1 others (A A^T = I / f^2).
    s = physics.mask.flatten()
    assert (s > 0).sum() == x[0].numel() // factor ** 2 and torch.allclose(s[s > 0], torch.tensor(1.0 / factor))
    H = hadamard(16)
    assert torch.allclose(H @ H.T, torch.eye(16), atol=1e-6) and torch.allclose(H[0], torch.full((16,), 0.25))
    with pytest.raises(ValueError, match="power of two"):
        svd_downsampling(3, (1, 9, 9))


def test_circular_blur_is_this_projects_blur_with_circular_padding():
    """deepinv's BlurFFT is this project's Blur with circular padding (a kernel that is not symmetric
    checks convolution against correlation). On Fashion-MNIST's 32x32 images (a 2-pixel black frame)
    the reflect-padded Blur the specs measure with agrees with it exactly farther than the kernel's
    radius from the border; over all pixels of the fixture's 300 images the RMS difference is 0.0074
    (gaussian:1.5) and 0.0084 (motion:7,0), under half the specs' noise std 0.02."""
    k = motion_kernel(7, 30.0)
    k[0, 0] += 0.3
    k = k / k.sum()  # Blur normalises its kernel; BlurFFT takes it as given
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    fft = circular_blur(k, (1, 16, 16))
    circular = Blur(k, padding="circular")
    assert torch.allclose(fft.A(x), circular.A(x), atol=1e-5)
    assert torch.allclose(fft.A_adjoint(x), circular.A_adjoint(x), atol=1e-5)
    images = to_unit_range(fashion_mnist_32("test", FIXTURE_FMNIST)[0])
    for blur, rms_bound in (("gaussian:1.5", 0.0085), ("motion:7,0", 0.0095)):
        reflect = operator_from_spec({"kind": "blur", "blur": blur, "padding": "reflect"}, (32, 32))
        r = reflect.kernel.shape[-1] // 2
        d = circular_blur(reflect.kernel, (1, 32, 32)).A(images) - reflect.A(images)
        assert d[..., r:-r, r:-r].abs().max() < 1e-5
        assert d.pow(2).mean().sqrt() < rms_bound
        assert d[..., r:-r, r:-r].abs().max() < d.abs().max()  # the difference lies in the border band


@pytest.fixture(scope="module")
def tiny_teacher_16():
    """An untrained class-conditional 16x16 teacher: the solvers' plumbing, not their quality."""
    from pagoda_inverse.nets import UNetConfig
    from pagoda_inverse.teacher import build_teacher

    torch.manual_seed(0)
    return build_teacher(UNetConfig(resolution=16, channels=1, model_channels=16, channel_mult=[1, 2], num_res_blocks=1,
                                    attn_resolutions=[], num_classes=10)).eval().requires_grad_(False)


@pytest.fixture(scope="module")
def images_16():
    x, c = fashion_mnist_32("test", FIXTURE_FMNIST)
    return to_unit_range(downsample(x[:3], 16)), c[:3]


@pytest.mark.parametrize("operator", [{"kind": "downsampling", "factor": 4, "noise": 0.0},
                                      {"kind": "inpainting", "random": 0.7, "noise": 0.0},
                                      {"kind": "blur", "blur": "gaussian:1.5", "padding": "reflect", "noise": 0.02},
                                      {"kind": "blur", "blur": "motion:7,0", "padding": "reflect", "noise": 0.02}])
@torch.no_grad()
def test_ddrm_runs_on_every_task_operator(tiny_teacher_16, images_16, operator, one_thread):
    D, (x, c) = tiny_teacher_16, images_16
    physics = operator_from_spec(operator, (16, 16), 0)
    y = physics(x, torch.Generator().manual_seed(1))
    solver = peer_solver("ddrm", D, c, physics, num_steps=4)
    x_hat, nfe = run_counted(D, solver, y, physics)
    assert nfe == 4 and x_hat.shape == x.shape and x_hat.min() >= 0 and x_hat.max() <= 1
    if operator["noise"] == 0:
        # Noiseless: DDRM's last step sets the observed coefficients to U^T y / s (etab = 1) and its
        # last denoiser call at sigma = 0 is the identity to within EDM's sigma_min, so x_hat fits y
        # (a wrong U, V or s would not: y's RMS is 0.3).
        assert rmse(physics.A(x_hat), y) < 0.05


def run_counted(D, solver, y, physics):
    calls = []
    handle = D.register_forward_hook(lambda *_: calls.append(1))
    try:
        return solver(y, physics), len(calls)
    finally:
        handle.remove()
