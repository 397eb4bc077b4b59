"""Physics: adjointness, pseudo-inverse consistency, known operator values, mask and kernel makers,
clear errors, and agreement with deepinv's own operators when it is installed."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pagoda_inverse.data import save_image
from pagoda_inverse.physics import (BLUR_FORMS, PADDINGS, Blur, Downsampling, GaussianNoise, Inpainting, LinearPhysics,
                                    box_mask, gaussian_kernel, kernel_from_image, mask_from_image, motion_kernel,
                                    parse_blur, random_mask)

SIZE = (24, 24)  # divisible by 2, 3 and 4


def rand(*shape, seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


ASYMMETRIC = rand(5, 5, seed=1)  # a non-symmetric kernel: a missing flip or transpose shows

OPERATORS = {
    "down2": lambda: Downsampling(2),
    "down4": lambda: Downsampling(4),
    "down3": lambda: Downsampling(3),  # autograd adjoint through box halving + antialiased bicubic
    "inpaint_box": lambda: Inpainting(box_mask(SIZE, 8)),
    "inpaint_random": lambda: Inpainting(random_mask(SIZE, 0.7, seed=0)),
    **{f"blur_{p}": (lambda p=p: Blur(ASYMMETRIC, padding=p)) for p in PADDINGS},
    "blur_gaussian": lambda: Blur(gaussian_kernel(1.2)),
    "blur_motion": lambda: Blur(motion_kernel(7, 30)),
}


@pytest.mark.parametrize("name", OPERATORS)
def test_adjointness(name):
    physics = OPERATORS[name]()
    x = rand(2, 3, *SIZE, seed=2)
    y = rand(*physics.A(x).shape, seed=3)
    lhs, rhs = (physics.A(x) * y).sum(), (x * physics.A_adjoint(y)).sum()
    assert abs(lhs - rhs) <= 1e-5 * abs(lhs)


@pytest.mark.parametrize("factor", [2, 4])
def test_downsampling_closed_forms_match_the_generic_ones(factor):
    physics = Downsampling(factor)
    y = rand(2, 3, 24 // factor, 24 // factor)
    torch.testing.assert_close(physics.A_adjoint(y), LinearPhysics.A_adjoint(physics, y))
    # CG from A^T y stays in the range of A^T, so it finds the minimum-norm solution A^+ y.
    torch.testing.assert_close(physics.A_dagger(y), LinearPhysics.A_dagger(physics, y))


@pytest.mark.parametrize("name", ["down2", "down4", "inpaint_box", "inpaint_random"])
def test_closed_form_pseudo_inverse_is_consistent(name):
    physics = OPERATORS[name]()
    y = physics.A(rand(2, 3, *SIZE))
    torch.testing.assert_close(physics.A(physics.A_dagger(y)), y, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["blur_reflect", "blur_gaussian", "blur_motion"])
def test_cg_pseudo_inverse_is_consistent(name):
    physics = OPERATORS[name]()
    y = physics.A(rand(2, 3, *SIZE))
    start = (physics.A(physics.A_adjoint(y)) - y).norm() / y.norm()
    error = (physics.A(physics.A_dagger(y)) - y).norm() / y.norm()
    # Measured after the default 100 CG iterations: 1.0e-3 (gaussian 1.2), 6e-4 (motion, asymmetric);
    # CG on the normal equations of a blur converges slowly, 1000 iterations reach 1e-5.
    assert error < 2e-3 and error < start / 50


def test_downsampling_values_and_errors():
    x = rand(2, 3, 16, 16)
    torch.testing.assert_close(Downsampling(4).A(x), F.avg_pool2d(x, 4))
    assert Downsampling(3).A_dagger(Downsampling(3).A(x[..., :15, :15])).shape == (2, 3, 15, 15)
    with pytest.raises(ValueError, match="16x16 is not divisible by 3"):
        Downsampling(3).A(x)


def test_adjoint_works_under_no_grad():
    y = rand(1, 1, 8, 8)
    with torch.no_grad():
        x = Blur(ASYMMETRIC).A_adjoint(y)
    assert not x.requires_grad and not y.requires_grad and x.abs().sum() > 0


def test_blur_is_a_true_convolution():
    x = rand(2, 3, 12, 16)
    delta = torch.zeros(5, 5)
    delta[2, 2] = 1
    torch.testing.assert_close(Blur(delta).A(x), x)
    constant = torch.full((1, 3, 12, 16), 0.4, dtype=torch.float64)
    torch.testing.assert_close(Blur(ASYMMETRIC).A(constant), constant)
    # k = delta one row below the centre: (k * x)[i, j] = x[i - 1, j], the image moves down.
    below = torch.zeros(5, 5)
    below[3, 2] = 1
    torch.testing.assert_close(Blur(below).A(x)[..., 1:, :], x[..., :-1, :])


@pytest.mark.parametrize("padding, mode", [("reflect", "mirror"), ("replicate", "nearest"), ("circular", "wrap"),
                                           ("constant", "constant")])
def test_blur_matches_scipy_convolve(padding, mode):
    ndimage = pytest.importorskip("scipy.ndimage")
    x = rand(1, 1, 12, 16)
    physics = Blur(ASYMMETRIC, padding=padding)
    expected = ndimage.convolve(x[0, 0].numpy(), physics.kernel.double().numpy(), mode=mode, cval=0.0)
    np.testing.assert_allclose(physics.A(x)[0, 0].numpy(), expected, rtol=0, atol=1e-12)


def test_blur_rejects_bad_kernels_and_paddings():
    for kernel, message in ((torch.ones(4, 4), "odd sides"), (torch.ones(5), "odd sides"), (-torch.ones(3, 3), "positive sum")):
        with pytest.raises(ValueError, match=message):
            Blur(kernel)
    with pytest.raises(ValueError, match="padding must be one of reflect, replicate, circular, constant"):
        Blur(torch.ones(3, 3), padding="zeros")


def test_kernel_makers():
    k = gaussian_kernel(1.5)
    assert k.shape == (11, 11) and abs(k.sum().item() - 1) < 1e-6 and torch.equal(k, k.T)
    m = motion_kernel(7, 0)
    assert m.shape == (7, 7) and abs(m.sum().item() - 1) < 1e-6
    torch.testing.assert_close(m[3], torch.full((7,), 1 / 7))  # angle 0: a horizontal line
    with pytest.raises(ValueError, match="odd and >= 3"):
        motion_kernel(6, 0)


def test_gaussian_noise():
    y = torch.full((2, 3, 32, 32), 0.5)
    noise = GaussianNoise(0.1)
    a, b = (noise(y, torch.Generator().manual_seed(7)) for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a, noise(y, torch.Generator().manual_seed(8)))
    assert abs((a - y).std().item() - 0.1) < 0.005  # 6144 samples: std error of the std ~ 0.001
    assert GaussianNoise(0.0)(y) is y
    physics = Blur(gaussian_kernel(1.0), sigma=0.1)
    torch.testing.assert_close(physics(y, torch.Generator().manual_seed(7)), physics.A(y) + (a - y))


def test_keeps_pixels_only_for_noiseless_inpainting():
    mask = box_mask(SIZE, 8)
    assert Inpainting(mask).keeps_pixels
    assert not Inpainting(mask, sigma=0.05).keeps_pixels
    assert not Downsampling(2).keeps_pixels and not Blur(torch.ones(3, 3)).keeps_pixels


def test_box_mask():
    mask = box_mask((10, 12), 4)
    assert mask.shape == (1, 1, 10, 12) and mask.sum() == 120 - 16
    assert (mask[0, 0, 3:7, 4:8] == 0).all()  # centred: rows 3..6, columns 4..7
    mask = box_mask((10, 12), (1, 2, 3, 5))
    assert mask.sum() == 120 - 15 and (mask[0, 0, 1:4, 2:7] == 0).all()
    with pytest.raises(ValueError, match="does not fit in 10x12"):
        box_mask((10, 12), (8, 0, 3, 3))


def test_random_mask():
    mask = random_mask((20, 30), 0.37, seed=3)
    assert mask.shape == (1, 1, 20, 30) and (mask == 0).sum() == round(0.37 * 600)
    assert torch.equal(mask, random_mask((20, 30), 0.37, seed=3))
    assert not torch.equal(mask, random_mask((20, 30), 0.37, seed=4))
    assert random_mask((20, 30), 0.0, seed=3).all()
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        random_mask((20, 30), 1.0, seed=3)


def test_mask_from_image_round_trip(tmp_path):
    mask = random_mask((12, 16), 0.5, seed=0)
    save_image(mask[0], tmp_path / "mask.png")
    assert torch.equal(mask_from_image(tmp_path / "mask.png", size=(12, 16)), mask)
    with pytest.raises(ValueError, match="the mask is 12x16, the image is 16x16"):
        mask_from_image(tmp_path / "mask.png", size=(16, 16))


def test_inpainting_rejects_bad_masks():
    with pytest.raises(ValueError, match="0 \\(missing\\) and 1 \\(observed\\) only"):
        Inpainting(torch.full((4, 4), 0.5))
    with pytest.raises(ValueError, match=r"\(H, W\), \(1, 1, H, W\) or \(B, C, H, W\)"):
        Inpainting(torch.ones(3, 4, 4))


def test_parse_blur(tmp_path):
    torch.testing.assert_close(parse_blur("gaussian:1.5").kernel, gaussian_kernel(1.5))
    torch.testing.assert_close(parse_blur("motion:7,30").kernel, motion_kernel(7, 30))
    levels = torch.tensor([[0, 51, 0], [51, 255, 51], [0, 51, 0]], dtype=torch.float32)
    save_image(levels[None] / 255, tmp_path / "kernel.png")
    torch.testing.assert_close(parse_blur(str(tmp_path / "kernel.png")).kernel, levels / levels.sum())
    for spec in ("gaussian:wide", "motion:7", "gaussian:-1", "no_such_kernel.png"):
        with pytest.raises(ValueError, match=BLUR_FORMS) as error:
            parse_blur(spec)
        assert "\n" not in str(error.value)
    save_image(torch.ones(1, 4, 4), tmp_path / "even.png")
    with pytest.raises(ValueError, match="square with an odd side, got 4x4"):
        kernel_from_image(tmp_path / "even.png")


# deepinv's own operators on the same inputs.

@pytest.mark.parametrize("padding", PADDINGS)
def test_blur_matches_deepinv(padding):
    dinv = pytest.importorskip("deepinv")
    ours = Blur(ASYMMETRIC, padding=padding)
    theirs = dinv.physics.Blur(filter=ours.kernel.double()[None, None], padding=padding)
    x, y = rand(2, 3, *SIZE, seed=2), rand(2, 3, *SIZE, seed=3)
    torch.testing.assert_close(ours.A(x), theirs.A(x))
    torch.testing.assert_close(ours.A_adjoint(y), theirs.A_adjoint(y))


def test_inpainting_matches_deepinv():
    dinv = pytest.importorskip("deepinv")
    mask = random_mask(SIZE, 0.5, seed=0)
    ours, theirs = Inpainting(mask), dinv.physics.Inpainting(img_size=(3, *SIZE), mask=mask[0])
    x = rand(2, 3, *SIZE)
    for op in ("A", "A_adjoint", "A_dagger"):
        assert torch.equal(getattr(ours, op)(x), getattr(theirs, op)(x))


@pytest.mark.parametrize("factor", [2, 4])
def test_downsampling_matches_deepinv_box_filter(factor):
    dinv = pytest.importorskip("deepinv")
    # deepinv centres an even filter at index f // 2 - 1, so with a "same" padding its box of 4
    # starts one pixel before the pooling cell; padding="valid" drops the centring and is exact.
    # Factors that are not powers of two have no deepinv counterpart: the project's rule ends in
    # torch's antialiased bicubic, deepinv's DownsamplingMatlab pads and weights edges differently.
    box = torch.ones(1, 1, factor, factor, dtype=torch.float64) / factor**2
    theirs = dinv.physics.Downsampling(img_size=(3, *SIZE), filter=box, factor=factor, padding="valid")
    ours = Downsampling(factor)
    x, y = rand(2, 3, *SIZE), rand(2, 3, 24 // factor, 24 // factor, seed=1)
    torch.testing.assert_close(ours.A(x), theirs.A(x))
    torch.testing.assert_close(ours.A_adjoint(y), theirs.A_adjoint(y))
