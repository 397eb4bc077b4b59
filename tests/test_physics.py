"""Physics: adjointness, pseudo-inverse consistency, known operator values, per-image parameters,
composition, mask and kernel makers, the spec factory and its errors, and agreement with deepinv's
own operators."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pagoda_inverse.data import save_image
from pagoda_inverse.physics import (BLUR_FORMS, PADDINGS, Blur, ComposedPhysics, Downsampling, GaussianNoise,
                                    Inpainting, LinearPhysics, box_mask, compose, gaussian_kernel, kernel_from_image,
                                    mask_from_image, motion_kernel, operator_from_spec, parse_blur, random_mask, task_of)

SIZE = (24, 24)  # divisible by 2, 3 and 4


def rand(*shape, seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


ASYMMETRIC = rand(5, 5, seed=1)  # a non-symmetric kernel: a missing flip or transpose shows

OPERATORS = {
    "down2": lambda: Downsampling(2),
    "down4": lambda: Downsampling(4),
    "down3": lambda: Downsampling(3),  # autograd adjoint through box halving + antialiased bicubic
    "down4_bicubic": lambda: Downsampling(4, filter="bicubic"),
    "inpaint_box": lambda: Inpainting(box_mask(SIZE, 8)),
    "inpaint_random": lambda: Inpainting(random_mask(SIZE, 0.7, seed=0)),
    **{f"blur_{p}": (lambda p=p: Blur(ASYMMETRIC, padding=p)) for p in PADDINGS},
    "blur_gaussian": lambda: Blur(gaussian_kernel(1.2)),
    "blur_motion": lambda: Blur(motion_kernel(7, 30)),
    "inpaint_per_image": lambda: Inpainting(torch.cat([random_mask(SIZE, 0.5, seed=i) for i in range(2)])),
    "blur_per_image": lambda: Blur(torch.stack([ASYMMETRIC, gaussian_kernel(0.8, 5).double()])[:, None]),
    "down2_blur": lambda: Downsampling(2) * Blur(ASYMMETRIC),
    "down3_blur_circular": lambda: compose(Downsampling(3), Blur(motion_kernel(5, 45), padding="circular")),
}


@pytest.mark.parametrize("name", OPERATORS)
def test_adjointness(name):
    physics = OPERATORS[name]()
    x = rand(2, 3, *SIZE, seed=2)
    y = rand(*physics.A(x).shape, seed=3)
    lhs, rhs = (physics.A(x) * y).sum(), (x * physics.A_adjoint(y)).sum()
    assert abs(lhs - rhs) <= 1e-5 * abs(lhs)


@pytest.mark.parametrize("name", OPERATORS)
def test_normal_operator_is_the_adjoint_of_the_forward(name):
    physics = OPERATORS[name]()
    x = rand(2, 3, *SIZE, seed=4)
    torch.testing.assert_close(physics.A_adjoint_A(x), physics.A_adjoint(physics.A(x)), rtol=1e-12, atol=1e-12)


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
    expected = ndimage.convolve(x[0, 0].numpy(), physics.kernel[0, 0].double().numpy(), mode=mode, cval=0.0)
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
    torch.testing.assert_close(parse_blur("gaussian:1.5").kernel[0, 0], gaussian_kernel(1.5))
    torch.testing.assert_close(parse_blur("motion:7,30").kernel[0, 0], motion_kernel(7, 30))
    levels = torch.tensor([[0, 51, 0], [51, 255, 51], [0, 51, 0]], dtype=torch.float32)
    save_image(levels[None] / 255, tmp_path / "kernel.png")
    torch.testing.assert_close(parse_blur(str(tmp_path / "kernel.png")).kernel[0, 0], levels / levels.sum())
    for spec in ("gaussian:wide", "motion:7", "gaussian:-1", "gaussian:inf", "motion:7,x", "motion:6,0", "no_such_kernel.png"):
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
    theirs = dinv.physics.Blur(filter=ours.kernel.double(), padding=padding)
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


# Per-image parameters, select, composition.

def test_select_indexes_per_image_parameters_and_keeps_shared_ones():
    masks = torch.cat([random_mask(SIZE, 0.5, seed=i) for i in range(3)])
    physics, x = Inpainting(masks), rand(3, 2, *SIZE)
    part = physics.select([2, 0])
    assert torch.equal(part.mask, masks[[2, 0]]) and torch.equal(physics.mask, masks)  # the original is kept
    assert torch.equal(part.A(x[[2, 0]]), physics.A(x)[[2, 0]])
    assert torch.equal(physics.select(torch.tensor([1])).mask, masks[1:2])
    assert torch.equal(physics.select(slice(1, 3)).mask, masks[1:])
    shared = Inpainting(masks[:1])
    assert torch.equal(shared.select([2, 0, 1]).mask, masks[:1])  # batch 1 broadcasts to any rows
    # Chains: rows repeated, one operator row per chain and image.
    rows = torch.arange(3).repeat(2)
    assert torch.equal(physics.select(rows).A(x.repeat(2, 1, 1, 1)), physics.A(x).repeat(2, 1, 1, 1))


def test_per_call_parameters_as_deepinv():
    x = rand(2, 3, *SIZE)
    masks = torch.cat([random_mask(SIZE, 0.3, seed=i) for i in range(2)])
    physics = Inpainting(box_mask(SIZE, 8))
    assert torch.equal(physics.A(x, mask=masks), masks * x)
    assert torch.equal(physics.mask, masks)  # stored, as deepinv's update_parameters does
    assert torch.equal(physics.with_parameters(mask=masks[:1]).mask, masks[:1]) and torch.equal(physics.mask, masks)
    # One kernel per image: each image blurred as by its own operator.
    kernels = torch.stack([ASYMMETRIC.float(), motion_kernel(5, 30)])[:, None]
    blur = Blur(gaussian_kernel(1.0))
    want = torch.cat([Blur(k[0]).A(x[i:i + 1]) for i, k in enumerate(kernels)])
    torch.testing.assert_close(blur.A(x, kernel=kernels), want)
    torch.testing.assert_close(blur.select([1]).A(x[1:]), want[1:])
    with pytest.raises(ValueError, match="unknown parameter 'mask'; its parameters: kernel"):
        blur.update_parameters(mask=masks)
    with pytest.raises(ValueError, match="0 \\(missing\\) and 1 \\(observed\\) only"):
        physics.A(x, mask=torch.full(SIZE, 0.5))


def test_pixel_parameters_are_those_that_cover_the_measurement():
    assert set(Inpainting(box_mask(SIZE, 8)).pixel_parameters(SIZE)) == {"mask"}
    assert Inpainting(box_mask(SIZE, 8)).pixel_parameters((12, 12)) == {}
    assert Blur(ASYMMETRIC).pixel_parameters(SIZE) == {} and Downsampling(2).pixel_parameters((12, 12)) == {}


def test_composition_is_blur_then_decimate():
    blur, down = Blur(ASYMMETRIC), Downsampling(2, sigma=0.1)
    both = down * blur
    x = rand(2, 3, *SIZE)
    assert isinstance(both, ComposedPhysics) and both.noise_model is down.noise_model
    torch.testing.assert_close(both.A(x), down.A(blur.A(x)))
    y = both.A(x)
    assert both.input_shape(y.shape) == x.shape and task_of(both) == "deblur" and not both.keeps_pixels
    # CG on the normal equations from A^T y: A A^+ y = y for y in the range of A.
    y1 = y[:1, :1]
    torch.testing.assert_close(both.A(both.A_dagger(y1, max_iter=300)), y1, atol=1e-4, rtol=0)
    # Per-image parameters reach the part that has them, through select and through the call.
    kernels = torch.stack([ASYMMETRIC, gaussian_kernel(0.8, 5).double()])[:, None]
    per_image = Downsampling(2) * Blur(kernels)
    torch.testing.assert_close(per_image.select([1]).A(x[1:]), down.A(Blur(kernels[1, 0]).A(x[1:])))
    torch.testing.assert_close(both.A(x, kernel=kernels), per_image.A(x))
    with pytest.raises(ValueError, match="no part has the parameter 'mask'"):
        both.A(x, mask=box_mask(SIZE, 4))
    with pytest.raises(ValueError, match="give the inner one \\(Blur\\) sigma 0"):
        Downsampling(2) * Blur(ASYMMETRIC, sigma=0.1)


def test_task_of_reads_the_operator():
    assert [task_of(p) for p in (Downsampling(2), Inpainting(box_mask(SIZE, 4)), Blur(ASYMMETRIC))] == \
        ["superres", "inpaint", "deblur"]

    class Identity(LinearPhysics):
        def A(self, x, **params):
            return x

    assert task_of(Identity()) == "deblur" and task_of(object()) == "deblur"
    dinv = pytest.importorskip("deepinv")
    assert task_of(dinv.physics.Inpainting(img_size=(1, *SIZE), mask=0.5)) == "inpaint"
    assert task_of(dinv.physics.Downsampling(img_size=(1, *SIZE), factor=2, filter=None)) == "superres"


def test_bicubic_back_projection_is_exact_and_paints_no_blocks():
    """x + A^+ (y - A x) fits y exactly with either filter; with the box filter the correction is
    constant over every 4x4 block, with the bicubic filter it is not (it varies inside the blocks)."""
    x_hat, x = rand(1, 1, 32, 32, seed=5), rand(1, 1, 32, 32, seed=6)
    for filter in ("box", "bicubic"):
        physics = Downsampling(4, filter=filter)
        y = physics.A(x)
        correction = physics.A_dagger(y - physics.A(x_hat), max_iter=500, tol=1e-10)
        torch.testing.assert_close(physics.A(x_hat + correction), y, rtol=0, atol=1e-6)
        blocks = correction.unfold(2, 4, 4).unfold(3, 4, 4)  # (1, 1, 8, 8, 4, 4)
        spread = blocks.flatten(-2).std(-1).mean()
        assert (spread < 1e-12) if filter == "box" else (spread > 0.05 * correction.std())
    assert operator_from_spec({"kind": "downsampling", "factor": 4, "filter": "bicubic"}, (32, 32)).filter == "bicubic"
    with pytest.raises(ValueError, match="filter must be one of box, bicubic"):
        operator_from_spec({"kind": "downsampling", "factor": 4, "filter": "lanczos"}, (32, 32))


# operator_from_spec: the one factory, and one line for every bad spec.

def test_operator_from_spec_builds_each_kind(tmp_path):
    down = operator_from_spec({"kind": "downsampling", "factor": 4, "noise": 0.02}, (32, 32))
    assert isinstance(down, Downsampling) and down.factor == 4 and down.noise_model.sigma == 0.02
    box = operator_from_spec({"kind": "inpainting", "box": 12}, (32, 32))
    assert torch.equal(box.mask, box_mask((32, 32), 12)) and box.noise_model.sigma == 0
    assert torch.equal(operator_from_spec({"kind": "inpainting", "box": [1, 2, 3, 4]}, (32, 32)).mask,
                       box_mask((32, 32), (1, 2, 3, 4)))
    rnd = operator_from_spec({"kind": "inpainting", "random": 0.7}, (32, 32), seed=5)
    assert torch.equal(rnd.mask, random_mask((32, 32), 0.7, seed=5))
    save_image(rnd.mask[0], tmp_path / "m.png")
    assert torch.equal(operator_from_spec({"kind": "inpainting", "mask": str(tmp_path / "m.png")}, (32, 32)).mask, rnd.mask)
    masks = torch.cat([random_mask((32, 32), 0.5, seed=i) for i in range(3)])
    assert torch.equal(operator_from_spec({"kind": "inpainting", "mask": masks}, (32, 32)).mask, masks)
    blur = operator_from_spec({"kind": "blur", "blur": "gaussian:1.5", "padding": "circular", "noise": 0.01}, (32, 32))
    torch.testing.assert_close(blur.kernel[0, 0], gaussian_kernel(1.5))
    assert blur.padding == "circular" and blur.noise_model.sigma == 0.01


BAD_SPECS = [
    ({"factor": 2}, "kind must be one of downsampling, inpainting, blur, got None"),
    ({"kind": "denoise"}, "kind must be one of downsampling, inpainting, blur, got 'denoise'"),
    ({"kind": "downsampling", "factor": 2, "scale": 2}, "unknown key scale for downsampling; its keys: kind, factor, filter, noise"),
    ({"kind": "blur", "blur": "gaussian:1", "box": 3}, "unknown key box for blur"),
    ({"kind": "downsampling"}, "downsampling needs factor"),
    ({"kind": "downsampling", "factor": 0}, "factor must be a positive integer, got 0"),
    ({"kind": "downsampling", "factor": "4"}, "factor must be a number, got '4'"),
    ({"kind": "downsampling", "factor": 3}, "32x32 image is not divisible by factor 3"),
    ({"kind": "downsampling", "factor": 2, "noise": -0.1}, "noise is a std >= 0"),
    ({"kind": "downsampling", "factor": 2, "noise": True}, "noise must be a number"),
    ({"kind": "inpainting"}, "exactly one of box, random or mask, got none"),
    ({"kind": "inpainting", "box": 4, "random": 0.5}, "exactly one of box, random or mask, got box, random"),
    ({"kind": "inpainting", "box": 40}, "box 40 does not fit in the 32x32 image"),
    ({"kind": "inpainting", "box": [30, 0, 5, 5]}, r"box \[30, 0, 5, 5\] \(top, left, height, width\) does not fit"),
    ({"kind": "inpainting", "box": [1, 2, 3]}, "box must be a side S or \\[top, left, height, width\\]"),
    ({"kind": "inpainting", "random": 1.0}, r"random is the missing fraction, in \[0, 1\), got 1.0"),
    ({"kind": "inpainting", "mask": torch.ones(16, 16)}, "the mask is \\(1, 1, 16, 16\\); give .* 32x32"),
    ({"kind": "inpainting", "mask": "no_such_mask.png"}, "mask 'no_such_mask.png': no such file"),
    ({"kind": "inpainting", "mask": 3}, "mask must be an image path or a tensor"),
    ({"kind": "blur"}, "blur needs blur = gaussian:SIGMA"),
    ({"kind": "blur", "blur": "gaussian:11"}, r"the 67x67 kernel is larger than the 32x32 image; .* SIGMA <= 5\)"),
    ({"kind": "blur", "blur": "motion:35,0"}, "the 35x35 kernel is larger than the 32x32 image"),
    ({"kind": "blur", "blur": "gaussian:wide"}, "expected gaussian:SIGMA"),
    ({"kind": "blur", "blur": "box:3"}, "no such kernel image"),
    ({"kind": "blur", "blur": "gaussian:1", "padding": "zeros"}, "padding must be one of reflect"),
]


@pytest.mark.parametrize("spec, message", BAD_SPECS, ids=[m[:30] for _, m in BAD_SPECS])
def test_operator_from_spec_says_what_is_wrong_in_one_line(spec, message):
    with pytest.raises(ValueError, match=message) as error:
        operator_from_spec(spec, (32, 32))
    assert "\n" not in str(error.value)


def test_operator_from_spec_rejects_bad_files_in_one_line(tmp_path):
    save_image(torch.ones(1, 16, 16), tmp_path / "small.png")
    (tmp_path / "not_an_image.png").write_text("hello")
    for spec, message in (({"kind": "inpainting", "mask": str(tmp_path / "small.png")}, "the mask is 16x16, the image is 32x32"),
                          ({"kind": "inpainting", "mask": str(tmp_path / "not_an_image.png")}, "not_an_image.png"),
                          ({"kind": "blur", "blur": str(tmp_path / "not_an_image.png")}, "not_an_image.png")):
        with pytest.raises(ValueError, match=message) as error:
            operator_from_spec(spec, (32, 32))
        assert "\n" not in str(error.value)
    # The operator refuses a kernel its padding cannot serve, in one line too (kornia would raise its own error).
    with pytest.raises(ValueError, match="the 67x67 kernel is too large for the 32x32 image with reflect padding"):
        parse_blur("gaussian:11").A(rand(1, 1, 32, 32))
    Blur(torch.ones(33, 33)).A(rand(1, 1, 32, 32))  # reflect needs sides longer than half the kernel only
    with pytest.raises(ValueError, match="larger than 1023 px, the largest taken"):
        parse_blur("gaussian:1e6")  # refused before a kernel of 6e6 px a side is built


# deepinv's operators with per-image parameters, the normal operator and composition.

def test_per_image_inpainting_and_blur_match_deepinv():
    dinv = pytest.importorskip("deepinv")
    masks = torch.cat([random_mask(SIZE, 0.5, seed=i) for i in range(2)]).double()
    x, y = rand(2, 3, *SIZE, seed=2), rand(2, 3, *SIZE, seed=3)
    theirs = dinv.physics.Inpainting(img_size=(3, *SIZE), mask=masks.expand(-1, 3, -1, -1).clone())
    ours = Inpainting(masks)
    for op in ("A", "A_adjoint", "A_adjoint_A"):
        torch.testing.assert_close(getattr(ours, op)(x).double(), getattr(theirs, op)(x))
    kernels = torch.stack([ASYMMETRIC, gaussian_kernel(0.8, 5).double()])[:, None]
    for padding in ("reflect", "circular"):
        ours = Blur(kernels, padding=padding)
        ours.kernel = ours.kernel.double()  # normalised to sum 1; deepinv takes a filter as it is
        theirs = dinv.physics.Blur(filter=ours.kernel, padding=padding)
        for op, v in (("A", x), ("A_adjoint", y), ("A_adjoint_A", x)):
            torch.testing.assert_close(getattr(ours, op)(v), getattr(theirs, op)(v))


def test_composition_matches_deepinv():
    dinv = pytest.importorskip("deepinv")
    # deepinv's compose(A_1, A_2) applies A_1 first: ours is written outer * inner, as A_2 A_1.
    box = torch.ones(1, 1, 2, 2, dtype=torch.float64) / 4
    ours = Downsampling(2) * Blur(ASYMMETRIC, padding="circular")
    ours.inner.kernel = ours.inner.kernel.double()
    theirs = dinv.physics.compose(dinv.physics.Blur(filter=ours.inner.kernel, padding="circular"),
                                  dinv.physics.Downsampling(img_size=(3, *SIZE), filter=box, factor=2, padding="valid"))
    x, y = rand(2, 3, *SIZE, seed=2), rand(2, 3, 12, 12, seed=3)
    torch.testing.assert_close(ours.A(x), theirs.A(x))
    torch.testing.assert_close(ours.A_adjoint(y), theirs.A_adjoint(y))
