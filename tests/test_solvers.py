"""The task layer's solvers and control: values against closed forms, and the shipped model on a few
fixture images (better than its classical starting point, observed pixels kept, spread where unknown)."""
import math

import pytest
import torch

import pagoda_inverse
from pagoda_inverse.config import ConfigError
from pagoda_inverse.control import interpolate, slerp, transfer
from pagoda_inverse.data import fashion_mnist_32
from pagoda_inverse.diffusion import SIGMA_MAX, encode, encoder_sigmas, to_unit_range
from pagoda_inverse.metrics import lpips_distance, psnr
from pagoda_inverse.physics import Blur, Downsampling, Inpainting, box_mask, gaussian_kernel, random_mask
from pagoda_inverse.solvers import (CLASSICAL, LatentSettings, biharmonic, classical, data_consistency, first_guess,
                                    optimise_latents, restore, richardson_lucy, task_settings, upscale, wiener)
from pagoda_inverse.solvers.labels import label_candidates, teacher_class_scores, teacher_denoise

from conftest import FIXTURE_FMNIST
from test_diffusion import GaussianDenoiser


@pytest.fixture(scope="module")
def model():
    return pagoda_inverse.load("fmnist")


@pytest.fixture(scope="module")
def images():
    x, y = fashion_mnist_32("test", FIXTURE_FMNIST)
    return to_unit_range(x[:8]), y[:8]


def test_noise_aware_encoder_starts_the_pf_ode_at_sigma_start():
    # Gaussian data N(0, s^2 I): the PF-ODE maps sigma_a to sigma_b by x sqrt((s^2 + b^2) / (s^2 + a^2)).
    s, a = 0.5, 0.2
    D = GaussianDenoiser(s).double()
    sig = encoder_sigmas(40, sigma_start=a)
    assert math.isclose(sig[0].item(), a, rel_tol=1e-6) and (sig[1:] > a).all() and (sig[1:] > sig[:-1]).all()
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    exact = x * math.sqrt((s ** 2 + SIGMA_MAX ** 2) / (s ** 2 + a ** 2))  # starting at sigma_min would be 7.7% off

    def err(n):
        return ((encode(D, x, num_levels=n, clamp=False, sigma_start=a) - exact).norm() / exact.norm()).item()

    assert err(40) < 0.01 and 3.5 < err(40) / err(80) < 4.5  # Heun's second order from sigma_start


@pytest.mark.slow
def test_latent_optimisation_reaches_the_ridge_solution():
    # A linear decoder x = M w and y = x + noise: the objective |M w - y|^2 / (2 s^2) + lam/2 |w|^2
    # is minimised by w* = (M^T M / s^2 + lam I)^-1 M^T y / s^2.
    torch.manual_seed(0)
    d, n, s, lam = 6, 20, 0.1, 2.0
    M = torch.randn(n, d) / math.sqrt(n)
    y = torch.randn(3, 1, 1, n)
    physics = Inpainting(torch.ones(1, 1, 1, n), 0.0)  # A = identity
    settings = LatentSettings(steps=400, lr=0.05, prior=lam, noise_floor=s, model_error=0.0, restarts=1)
    decode = lambda w, k: (w.view(len(w), d) @ M.T).view(len(w), 1, 1, n)  # noqa: E731
    x, misfit, energy = optimise_latents(decode, physics, y, torch.zeros(3, d), s, settings)
    w_star = torch.linalg.solve(M.T @ M / s ** 2 + lam * torch.eye(d), (y.view(3, n) @ M).T / s ** 2).T
    torch.testing.assert_close(x[0], (w_star @ M.T).view(3, 1, 1, n).clamp(0, 1), atol=2e-3, rtol=0)
    assert x.shape == (2, 3, 1, 1, n) and misfit.shape == (2, 3) and energy.shape == (2, 3)


def test_per_image_masks_follow_every_chain():
    # The decoder x = w (identity) and A = one mask per image: each image's chains fit its own mask;
    # chain 0 (from w_init; the others' perturbations are drawn per batch) as when it is optimised alone.
    d = 16
    masks = torch.cat([random_mask((1, d), 0.5, seed=i) for i in range(3)])
    y = torch.rand(3, 1, 1, d, generator=torch.Generator().manual_seed(1)) * masks
    settings = LatentSettings(steps=30, lr=0.05, model_error=0.1, restarts=2)
    decode = lambda w, k: w.view(len(w), 1, 1, d)  # noqa: E731
    w0 = torch.zeros(3, d)
    x, misfit, energy = optimise_latents(decode, Inpainting(masks), y, w0, 0.0, settings)
    for i in range(3):
        xi, mi, ei = optimise_latents(decode, Inpainting(masks[i:i + 1]), y[i:i + 1], w0[i:i + 1], 0.0, settings)
        torch.testing.assert_close(misfit[0, i], mi[0, 0])
        torch.testing.assert_close(x[0, i], xi[0, 0])
        keep = masks[i].bool()
        assert all(torch.equal(x[k, i][keep], y[i][keep]) for k in range(3))  # observed pixels put back in every chain
    assert x.shape == (3, 3, 1, 1, d)


def test_classical_methods_by_name():
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert {m: CLASSICAL[m].task for m in CLASSICAL} == {
        "nearest": "superres", "bilinear": "superres", "bicubic": "superres", "lanczos": "superres",
        "biharmonic": "inpaint", "richardson-lucy": "deblur", "wiener": "deblur"}
    down, hole, blur = Downsampling(2), Inpainting(box_mask((16, 16), 4)), Blur(gaussian_kernel(1.0))
    assert torch.equal(classical("lanczos", down.A(x), down), upscale(down.A(x), 2, "lanczos"))
    assert torch.equal(classical("biharmonic", hole.A(x), hole), biharmonic(hole.A(x), hole.mask))
    y = blur.A(x)
    assert torch.equal(classical("richardson_lucy", y, blur, iterations=5), richardson_lucy(y, blur.kernel[0, 0], 5))
    assert torch.equal(classical("wiener", y, blur, seed=1), wiener(y, blur.kernel[0, 0], seed=1))
    # One kernel per image: each image deconvolved with its own.
    two = Blur(torch.stack([gaussian_kernel(1.0, 5), gaussian_kernel(0.6, 5)])[:, None])
    y2 = two.A(x)
    want = torch.cat([richardson_lucy(y2[i:i + 1], two.kernel[i, 0], 5) for i in range(2)])
    assert torch.equal(classical("richardson-lucy", y2, two, iterations=5), want)
    for call, message in ((lambda: classical("sharpen", y, blur), "unknown classical method 'sharpen'; use one of"),
                          (lambda: classical("biharmonic", y, blur), "biharmonic restores inpaint measurements"),
                          (lambda: classical("wiener", y, blur, iterations=3), "wiener: unknown option iterations; its options: seed")):
        with pytest.raises(ValueError, match=message):
            call()


def test_first_guess_is_the_tasks_classical_method_or_the_pseudo_inverse():
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    st = task_settings("deblur", {"rl_iterations": 4})
    blur = Blur(gaussian_kernel(1.0))
    assert torch.equal(first_guess(blur.A(x), blur, st), richardson_lucy(blur.A(x), blur.kernel, 4))
    down = Downsampling(2)
    assert torch.equal(first_guess(down.A(x), down, st), upscale(down.A(x), 2, "bicubic"))
    both = Downsampling(2) * blur  # no classical method of its own: A^+ y
    assert torch.equal(first_guess(both.A(x), both, st), both.A_dagger(both.A(x)).clamp(0, 1))


def test_data_consistency_is_the_proximal_step():
    torch.manual_seed(0)
    x_hat, x = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    # Inpainting without noise: the observed pixels are put back, the rest kept.
    mask = box_mask((16, 16), 6)
    out = data_consistency(Inpainting(mask), x_hat, mask * x, 0.0, 0.1)
    assert torch.equal(out, mask * x + (1 - mask) * x_hat)
    # Super-resolution without noise: A out = y exactly, and out - x_hat is constant on each pooling block.
    phys = Downsampling(4)
    y = phys.A(x)
    out = data_consistency(phys, x_hat * 0.5 + 0.25, y, 0.0, 0.1)
    torch.testing.assert_close(phys.A(out), y, atol=1e-5, rtol=0)
    delta = out - (x_hat * 0.5 + 0.25)
    torch.testing.assert_close(delta, phys.A_dagger(phys.A(delta)), atol=1e-5, rtol=0)
    # A noisy blur: the gradient of |A v - y|^2 / (2 s^2) + |v - x_hat|^2 / (2 tau^2) vanishes at the output.
    phys, s, tau = Blur(gaussian_kernel(1.0)), 0.05, 0.1
    y = phys.A(x) + s * torch.randn_like(x)
    v = data_consistency(phys, x_hat * 0.5 + 0.25, y, s, tau, iterations=200).requires_grad_(True)
    obj = ((phys.A(v) - y) ** 2).sum() / (2 * s ** 2) + ((v - (x_hat * 0.5 + 0.25)) ** 2).sum() / (2 * tau ** 2)
    (grad,) = torch.autograd.grad(obj, v)
    assert grad.abs().max() < 1e-2 * (1 / tau ** 2)  # relative to the curvature of the prox term


def test_task_settings_overrides_and_errors():
    st = task_settings("inpaint", {"latent": {"steps": 7}, "rl_iterations": 3})
    assert st.latent.steps == 7 and st.rl_iterations == 3 and st.latent.prior == task_settings("inpaint").latent.prior
    with pytest.raises(ValueError, match="unknown task"):
        task_settings("denoise")
    with pytest.raises(ConfigError, match="unknown key"):
        task_settings("inpaint", {"latent": {"stepz": 7}})


def test_a_models_own_task_settings_sit_between_the_defaults_and_the_overrides(tmp_path, monkeypatch):
    from pagoda_inverse.solvers import settings
    toml = tmp_path / "tasks.toml"
    toml.write_text("[superres]\nscale = 4\n[superres.latent]\nsteps = 30\nlr = 0.1\n")
    monkeypatch.setattr(settings, "TASKS_TOML", toml)
    assert task_settings("superres").latent.steps == 30
    defaults = {"superres": {"latent": {"steps": 0}}, "inpaint": {"latent": {"steps": 9}}}  # a model's task_defaults
    st = task_settings("superres", None, defaults)
    assert st.latent.steps == 0 and st.latent.lr == 0.1 and st.scale == 4  # the rest from [superres]
    assert task_settings("superres", {"latent": {"steps": 5}}, defaults).latent.steps == 5
    assert task_settings("superres", None, {}).latent.steps == 30  # no defaults of its own


@pytest.mark.slow
def test_inpainting_beats_biharmonic_keeps_pixels_and_spreads_only_where_unknown(model, images):
    x, labels = images
    physics = Inpainting(box_mask((32, 32), 12))
    y = physics(x)
    settings = task_settings("inpaint", {"latent": {"steps": 20}})
    r = restore(model, y, physics, labels, settings)
    mask = physics.mask.expand_as(x).bool()
    assert torch.equal(r.x[mask], x[mask])  # observed pixels put back exactly
    assert (r.std[mask] == 0).all() and r.std[~mask].mean() > 1e-3  # spread only in the hole
    assert torch.equal(r.labels, labels)
    base = biharmonic(y, physics.mask)
    assert lpips_distance(r.x, x).mean() < 0.8 * lpips_distance(base, x).mean()
    assert psnr(r.x, x).mean() > psnr(base, x).mean()


@pytest.mark.slow
def test_native_superres_and_inferred_labels(model, images):
    x, labels = images
    physics = Downsampling(4)
    y = physics(x)
    native = task_settings("superres", {"latent": {"steps": 0, "model_error": 0.0, "restarts": 0}})
    r0 = restore(model, y, physics, labels, native)
    torch.testing.assert_close(r0.x, model.decode(model.encode(y, labels), labels, 32))  # G(Enc(y)) exactly
    assert (r0.std == 0).all()
    r = restore(model, y, physics, None, task_settings("superres", {"latent": {"steps": 10}}))
    assert r.labels.shape == labels.shape and (r.labels == labels).float().mean() >= 0.5
    # The data step makes the output consistent with y (up to the clamp to [0, 1]).
    assert (physics.A(r.x) - y).abs().mean() < 0.2 * (physics.A(r0.x) - y).abs().mean()


@pytest.mark.slow
def test_teacher_shortlist_and_denoised_classifier_input(model, images):
    x, labels = images
    y = Downsampling(4)(x)
    y_noisy = y + 0.05 * torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
    full = teacher_class_scores(model, y_noisy, 0.05, draws=3)
    # Scoring a subset of classes gives those classes' scores of the full scoring (shared noise draws).
    some = torch.tensor([[3, 0, 7]]).expand(len(y), -1)
    torch.testing.assert_close(teacher_class_scores(model, y_noisy, 0.05, draws=3, classes=some), full[:, [3, 0, 7]])
    # With a shortlist of m, "both" keeps the classifier's top m and ranks them by classifier + w teacher.
    log_c = model.classify(teacher_denoise(model, y_noisy, 0.05)).log_softmax(1)
    kept = log_c.topk(3, dim=1).indices
    want = kept.gather(1, (log_c.gather(1, kept) + 2.0 * full.gather(1, kept)).argmax(1, keepdim=True))[:, 0]
    top, _ = label_candidates(model, y_noisy.clamp(0, 1), 1, "both", y_noisy, 0.05, 2.0, draws=3, shortlist=3)
    assert torch.equal(top[:, 0], want)
    # No shortlist: the teacher scores every class; a shortlist shorter than k still gives k finite candidates.
    top, _ = label_candidates(model, y_noisy.clamp(0, 1), 1, "both", y_noisy, 0.05, 2.0, draws=3)
    assert torch.equal(top[:, 0], (log_c + 2.0 * full).argmax(1))
    _, scores = label_candidates(model, y_noisy.clamp(0, 1), 4, "both", y_noisy, 0.05, 2.0, draws=3, shortlist=2)
    assert scores.isfinite().all()
    # The classifier sees the teacher's class-free denoising: closer to the clean 8x8 image than y is.
    assert (teacher_denoise(model, y_noisy, 0.05) - y).norm() < 0.8 * (y_noisy - y).norm()
    assert teacher_denoise(model, y, 0.0) is y


@pytest.mark.slow
def test_mirrored_teacher_scores_average_the_image_and_its_mirror(model, images):
    x, labels = images
    y = Downsampling(4)(x)
    some = torch.tensor([[3, 0, 7]]).expand(len(y), -1)
    both = teacher_class_scores(model, torch.cat([y, y.flip(-1)]), draws=2, classes=some.repeat(2, 1))
    want = (both[:len(y)] + both[len(y):]) / 2
    torch.testing.assert_close(teacher_class_scores(model, y, draws=2, classes=some, mirror=True), want)
    # The mirror is left-right: an up-down flip would score other images.
    flipped_ud = teacher_class_scores(model, torch.cat([y, y.flip(-2)]), draws=2, classes=some.repeat(2, 1))
    assert not torch.allclose((flipped_ud[:len(y)] + flipped_ud[len(y):]) / 2, want)
    # label_candidates passes it on.
    top, scores = label_candidates(model, y, 1, "teacher", y, 0.0, draws=2, mirror=True)
    full = teacher_class_scores(model, y, draws=2, mirror=True)
    assert torch.equal(top[:, 0], full.argmax(1)) and torch.allclose(scores[:, 0], full.max(1).values)


@pytest.mark.slow
def test_control_transfer_and_interpolation(model, images):
    x, labels = images
    out = transfer(model, x[:2], labels[:2], torch.tensor([7, 7]))
    assert out.shape == (2, 1, 32, 32)
    torch.testing.assert_close(out, model.decode(model.encode(x[:2], labels[:2]), torch.tensor([7, 7])))
    strip = interpolate(model, x[:1], x[1:2], labels[0], labels[1], frames=5)
    ends = model.decode(model.encode(x[:2], labels[:2]), labels[:2])
    torch.testing.assert_close(strip[[0, -1]], ends, atol=1e-5, rtol=0)
    fixed = interpolate(model, x[:1], x[1:2], labels[0], labels[1], frames=5, mix_labels=False)
    torch.testing.assert_close(fixed[0], strip[0], atol=1e-5, rtol=0)


def test_slerp_keeps_the_norm_and_hits_the_ends():
    torch.manual_seed(0)
    a, b = torch.randn(1, 8, 8), torch.randn(1, 8, 8)
    b = b * a.norm() / b.norm()
    path = slerp(a, b, torch.linspace(0, 1, 7))
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[-1], b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(path.flatten(1).norm(dim=1), a.norm().expand(7), atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_soft_labels_equal_hard_labels_on_one_hot(model):
    z = model.prior(3, seed=1)
    hard = model.decode(z, torch.tensor([1, 4, 9]))
    soft = model.decode(z, torch.nn.functional.one_hot(torch.tensor([1, 4, 9]), 10).float())
    torch.testing.assert_close(soft, hard)
    with pytest.raises(ValueError, match="summing to 1"):
        model.decode(z, torch.full((3, 10), 0.5))


@pytest.mark.slow
def test_solver_runs_on_deepinv_physics(model, images):
    dinv = pytest.importorskip("deepinv")
    x, labels = images
    mask = box_mask((32, 32), 12)
    physics = dinv.physics.Inpainting(img_size=(1, 32, 32), mask=mask[0])
    y = physics(x)
    solver = pagoda_inverse.solvers.PaGoDASolver(model, labels, task_settings("inpaint", {"latent": {"steps": 5}}))
    out = solver(y, physics)
    assert out.shape == x.shape
    keep = mask.expand_as(x).bool()
    torch.testing.assert_close(out[keep], x[keep], atol=1e-5, rtol=0)  # its data step puts the pixels back


def test_tiles_cover_any_size_and_blend_without_seams():
    from pagoda_inverse.data import upsample_nearest
    from pagoda_inverse.solvers.tiles import blend_window, tile_starts, tiled

    assert tile_starts(37, 16, 4) == [0, 12, 21] and tile_starts(16, 16, 4) == [0]
    w = blend_window(64, 16)
    assert w.min() > 0 and torch.equal(w[16:48], torch.ones(32)) and torch.allclose(w, w.flip(0))
    g = torch.Generator().manual_seed(0)
    calls = []

    def up4(t, m=None):
        calls.append(len(t))
        return upsample_nearest(t if m is None else t * m, t.shape[-1] * 4)

    # A model that is exact per pixel gives the whole-image result for any size, tiles blended or not.
    for h, w_ in ((37, 23), (10, 10), (16, 48)):
        y = torch.rand(1, 3, h, w_, generator=g)
        torch.testing.assert_close(tiled(up4, y, tile=16, scale=4, batch=5), upsample_nearest(y, (4 * h, 4 * w_)))
    assert max(calls) <= 5  # never more tiles at once than the batch
    # Aligned inputs (a mask) are cut with the same boxes.
    y, m = torch.rand(1, 3, 40, 40, generator=g), (torch.rand(1, 1, 40, 40, generator=g) > 0.5).float()
    torch.testing.assert_close(tiled(up4, y, m, tile=16, scale=4), upsample_nearest(y * m, 160))
    # Tiles that disagree are blended: each output pixel is a convex combination of the tiles covering it,
    # changing smoothly across an overlap instead of jumping.
    count = iter(range(1000))
    const = lambda t: torch.stack([torch.full_like(t[0], float(next(count))) for _ in t])  # noqa: E731
    out = tiled(const, torch.zeros(1, 1, 16, 28), tile=16, overlap=4)  # two tiles, origins 0 and 12
    assert out[0, 0, 0, 0] == 0 and out[0, 0, 0, -1] == 1 and out.min() >= 0 and out.max() <= 1
    row = out[0, 0, 0]
    assert (row.diff() >= 0).all() and row.diff().max() < 0.5


@pytest.mark.slow
def test_restore_tiled_is_restore_on_one_tile_and_covers_any_size(model, images):
    from pagoda_inverse.solvers import restore_tiled

    x, labels = images
    native = task_settings("superres", {"latent": {"steps": 0, "model_error": 0.0, "restarts": 0}})
    y = Downsampling(4)(x[:1])
    x1, s1 = restore_tiled(model, y, Downsampling(4), labels[:1], native)
    torch.testing.assert_close(x1, restore(model, y, Downsampling(4), labels[:1], native).x)
    # A 12x8 input (not square, not a tile multiple): 48x32 out; where one tile alone covers, it is that tile's restoration.
    wide = torch.cat([y, Downsampling(4)(x[1:2])], -2)[..., :12, :]
    out, spread = restore_tiled(model, wide, Downsampling(4), labels[0], native)
    assert out.shape == spread.shape == (1, 1, 48, 32)
    torch.testing.assert_close(out[..., :8, :], restore(model, wide[..., :8, :], Downsampling(4), labels[:1], native).x[..., :8, :])
    # Inpainting a 32x48 image: the mask is cut with the image, observed pixels come back exactly.
    big = torch.cat([x[0], x[1]], -1)[None, :, :, :48]
    physics = Inpainting(box_mask((32, 48), (10, 20, 12, 12)))
    r, spread = restore_tiled(model, physics(big), physics, labels[0], task_settings("inpaint", {"latent": {"steps": 5}}))
    keep = physics.mask.expand_as(big).bool()
    torch.testing.assert_close(r[keep], big[keep])
    assert r.shape == (1, 1, 32, 48) and spread[~keep].mean() > spread[keep].mean()


def test_back_projection_through_the_bicubic_operator():
    """latent.back_projection = "bicubic" projects super-resolution through the antialiased bicubic
    reduction (same factor and noise); any other task, or an unknown name, is a one-line error."""
    from pagoda_inverse.physics import Blur, Downsampling, gaussian_kernel
    from pagoda_inverse.solvers.latent import back_projection_operator
    box = Downsampling(4, sigma=0.01)
    assert back_projection_operator(box, "operator") is box
    smooth = back_projection_operator(box, "bicubic")
    assert smooth.filter == "bicubic" and smooth.factor == 4 and smooth.noise_model.sigma == 0.01
    for physics, name in ((Blur(gaussian_kernel(1.0)), "bicubic"), (box, "lanczos")):
        with pytest.raises(ValueError, match="back_projection must be one of operator, bicubic"):
            back_projection_operator(physics, name)


def test_superres_gives_y_itself_to_a_decoder_with_residual_stages():
    """restore hands y to the stages as the image they refine (G(z, x_low=y)): a freshly grown
    residual stage returns bicubic(y) exactly, whatever the latent; the data-consistency step then
    moves it only where it does not reduce to y."""
    import copy
    import torch.nn.functional as F
    from pagoda_inverse.autoencoder import PaGoDA
    from test_decoder import trained_like_decoder
    D, G8 = trained_like_decoder()
    G16 = copy.deepcopy(G8)
    G16.grow("residual")
    model = PaGoDA(D, [G8, G16], levels=4)
    y = 0.25 + 0.5 * torch.rand(2, 1, 8, 8)  # no overshoot to clamp
    up = F.interpolate(y, scale_factor=2, mode="bicubic", align_corners=False)
    native = task_settings("superres", {"latent": {"steps": 0, "restarts": 0, "model_error": 0.0}})
    r = restore(model, y, Downsampling(2), torch.tensor([1, 2]), native)
    torch.testing.assert_close(r.x, up)
    smooth = task_settings("superres", {"latent": {"steps": 0, "restarts": 0, "back_projection": "bicubic"}})
    x = restore(model, y, Downsampling(2), torch.tensor([1, 2]), smooth).x
    assert torch.allclose(F.interpolate(x, scale_factor=0.5, mode="bicubic", antialias=True), y, atol=2e-3)


def test_back_projection_of_a_black_tile_is_finite_and_independent_of_its_batch():
    # A black input tile (y = 0) whose decoded tile is black but for a few faint pixels once sent
    # conjugate gradient on iterating a converged system, ~0 divided by ~0: NaN patches in the CLI's
    # output of a photo with black areas.
    torch.manual_seed(0)
    phys = Downsampling(4, filter="bicubic")
    x_hat, y = torch.rand(3, 3, 64, 64), phys.A(torch.rand(3, 3, 64, 64))
    x_hat[0], y[0] = 0.0, 0.0
    x_hat[0, 1, 10, 20] = x_hat[0, 2, 40, 7] = 0.01
    out = data_consistency(phys, x_hat, y, 0.0, 0.06)
    assert torch.isfinite(out).all()
    misfit = lambda v: ((phys.A(v[1:]) - y[1:]) ** 2).flatten(1).mean(1)  # noqa: E731
    assert (misfit(out) < misfit(x_hat) / 100).all()
    for i in range(3):  # each image's result is the one it gets alone
        torch.testing.assert_close(out[i:i + 1], data_consistency(phys, x_hat[i:i + 1], y[i:i + 1], 0.0, 0.06))
