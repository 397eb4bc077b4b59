"""The shipped teacher: it denoises, and its PF-ODE encoder round-trips the committed fixture."""
import pytest
import torch

from pagoda_inverse.data import downsample, fashion_mnist_32
from pagoda_inverse.diffusion import decode_ode, encode, to_unit_range
from pagoda_inverse.metrics import psnr
from pagoda_inverse.teacher import load_teacher

from conftest import FIXTURE_FMNIST, cli


@pytest.fixture(scope="module")
def teacher():
    return load_teacher("fmnist-teacher")


@pytest.fixture(scope="module")
def fixture_8x8():
    x, y = fashion_mnist_32("test", FIXTURE_FMNIST)
    return downsample(x, 8), y


def test_denoiser_is_identity_at_sigma_min_and_denoises_above(teacher, fixture_8x8):
    x, y = fixture_8x8
    torch.manual_seed(0)
    # At sigma_min a clean image moves by less than the noise the denoiser is told is there.
    err = (teacher(x, teacher.sigma_min, y) - x).abs()
    assert err.mean() < 0.5 * teacher.sigma_min and err.max() < 5 * teacher.sigma_min, (err.mean(), err.max())
    for sigma in (0.05, 0.2, 0.5, 1.0):
        noisy = x + sigma * torch.randn_like(x)
        mse = ((teacher(noisy, sigma, y) - x) ** 2).mean().item()
        assert mse < 0.5 * sigma ** 2, (sigma, mse)  # well below the noise it was given


@pytest.mark.slow
def test_encoder_round_trip_on_fixture(teacher, fixture_8x8):
    x, y = fixture_8x8
    z = encode(teacher, x, y, num_levels=40)
    u = z / teacher.sigma_max
    assert abs(u.mean().item()) < 0.2 and 0.6 < u.std().item() < 1.2  # near N(0, 1)
    back = decode_ode(teacher, z, y, num_levels=40)
    p = psnr(to_unit_range(back.clamp(-1, 1)), to_unit_range(x))
    assert p.mean() >= 60 and p.min() >= 45, (p.mean(), p.min())
    # A label mismatched between the two directions breaks the round trip: the check has teeth.
    wrong = decode_ode(teacher, z, (y + 1) % 10, num_levels=40)
    assert psnr(to_unit_range(wrong.clamp(-1, 1)), to_unit_range(x)).mean() < p.mean() - 10


def test_sample_cli_writes_class_grid(tmp_path):
    out = tmp_path / "grid.png"
    r = cli("sample", "--model", "fmnist-teacher", "--out", out, "--per-class", 2, "--levels", 6, "--zoom", 1)
    assert r.returncode == 0, r.stderr
    from pagoda_inverse.data import load_image
    img = load_image(out)
    assert img.shape == (1, 10 * (8 + 2) + 2, 2 * (8 + 2) + 2)
