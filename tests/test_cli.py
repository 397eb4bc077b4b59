"""The task commands (superres, inpaint, deblur, transfer, interpolate) and the one image loader's
mode rule. In-process through click's CliRunner with the shipped model loaded once; two real
subprocess runs prove the entry point end to end."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import pagoda_inverse.autoencoder
from pagoda_inverse.cli import main
from pagoda_inverse.data import FASHION_MNIST_CLASSES, downsample, fashion_mnist_32, load_image, save_image
from pagoda_inverse.diffusion import to_unit_range
from pagoda_inverse.data.images import ImageError
from pagoda_inverse.metrics import psnr
from pagoda_inverse.physics import operator_from_spec
from pagoda_inverse.solvers import upscale

from conftest import FIXTURE_FMNIST, cli

pytestmark = pytest.mark.usefixtures("one_thread", "cached_fmnist")

# ---- the one image-mode rule (data.MODE_RULE) ----


def test_gray_and_rgb_read_as_written(tmp_path):
    gray = np.array([[0, 128], [255, 7]], np.uint8)
    Image.fromarray(gray).save(tmp_path / "l.png")
    x = load_image(tmp_path / "l.png")
    assert x.shape == (1, 2, 2) and torch.equal(x[0], torch.from_numpy(gray / 255.0).float())
    assert torch.equal(load_image(tmp_path / "l.png", channels=3), x.expand(3, -1, -1))  # gray replicated

    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]], np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    x = load_image(tmp_path / "rgb.png")
    assert x.shape == (3, 2, 2) and torch.equal(x, torch.from_numpy(rgb.transpose(2, 0, 1) / 255.0).float())
    luma = np.asarray(Image.fromarray(rgb).convert("L")) / 255.0  # ITU-R 601, as PIL computes it
    assert torch.equal(load_image(tmp_path / "rgb.png", channels=1)[0], torch.from_numpy(luma).float())
    assert abs(load_image(tmp_path / "rgb.png", channels=1)[0, 0, 0].item() - 0.299) < 2 / 255  # pure red


def test_alpha_is_split_off_and_returned(tmp_path):
    la = np.array([[[50, 0], [100, 128]], [[150, 255], [200, 3]]], np.uint8)
    Image.fromarray(la).save(tmp_path / "la.png")
    x, alpha = load_image(tmp_path / "la.png", with_alpha=True)
    assert x.shape == (1, 2, 2) and torch.equal(x[0], torch.from_numpy(la[..., 0] / 255.0).float())
    assert torch.equal(alpha[0], torch.from_numpy(la[..., 1] / 255.0).float())
    assert torch.equal(load_image(tmp_path / "la.png"), x)  # without with_alpha: the image alone

    rgba = np.random.default_rng(0).integers(0, 256, (3, 4, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    x, alpha = load_image(tmp_path / "rgba.png", channels=3, with_alpha=True)
    assert torch.equal(x, torch.from_numpy(rgba[..., :3].transpose(2, 0, 1) / 255.0).float())
    assert torch.equal(alpha[0], torch.from_numpy(rgba[..., 3] / 255.0).float())
    gray, alpha1 = load_image(tmp_path / "rgba.png", channels=1, with_alpha=True)
    assert gray.shape == (1, 3, 4) and torch.equal(alpha1, alpha)

    Image.fromarray(la[..., 0]).save(tmp_path / "l.png")
    assert load_image(tmp_path / "l.png", with_alpha=True)[1] is None


def test_palette_with_and_without_transparency(tmp_path):
    p = Image.new("P", (2, 1))
    p.putpalette([255, 0, 0, 0, 0, 255])
    p.putpixel((1, 0), 1)
    p.save(tmp_path / "p.png")
    x, alpha = load_image(tmp_path / "p.png", with_alpha=True)
    assert alpha is None and torch.equal(x[:, 0], torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
    p.info["transparency"] = 0  # palette entry 0 (red) transparent
    p.save(tmp_path / "pt.png")
    x, alpha = load_image(tmp_path / "pt.png", with_alpha=True)
    assert torch.equal(alpha[0, 0], torch.tensor([0.0, 1.0])) and torch.equal(x[:, 0, 1], torch.tensor([0.0, 0.0, 1.0]))


def test_sixteen_bit_and_bilevel(tmp_path):
    a = np.array([[0, 32768], [65535, 1000]], np.uint16)
    Image.fromarray(a).save(tmp_path / "i16.png")  # read back as I;16
    x = load_image(tmp_path / "i16.png")
    assert x.shape == (1, 2, 2)
    assert abs(x[0, 1, 0] - 1.0) < 1e-6 and abs(x[0, 0, 1] - 0.5) < 1e-4 and abs(x[0, 1, 1] - 1000 / 65535) < 1e-6
    assert torch.equal(load_image(tmp_path / "i16.png", channels=3), x.expand(3, -1, -1))
    big_endian = Image.frombytes("I;16B", (2, 1), np.array([65535, 32768], ">u2").tobytes())
    big_endian.save(tmp_path / "i16b.tif")
    assert torch.allclose(load_image(tmp_path / "i16b.tif", channels=1)[0, 0], torch.tensor([1.0, 0.5]), atol=1e-4)
    one = Image.new("1", (2, 1))
    one.putpixel((1, 0), 1)
    one.save(tmp_path / "one.png")
    assert torch.equal(load_image(tmp_path / "one.png"), torch.tensor([[[0.0, 1.0]]]))


def test_save_image_writes_alpha_and_refuses_nan(tmp_path):
    x, alpha = torch.rand(1, 3, 5).mul(255).round() / 255, torch.rand(1, 3, 5).mul(255).round() / 255
    save_image(x, tmp_path / "la.png", alpha)
    with Image.open(tmp_path / "la.png") as im:
        assert im.mode == "LA"
    y, a = load_image(tmp_path / "la.png", with_alpha=True)
    assert torch.equal(y, x) and torch.equal(a, alpha)
    save_image(x.expand(3, -1, -1), tmp_path / "rgba.png", alpha)
    with Image.open(tmp_path / "rgba.png") as im:
        assert im.mode == "RGBA"
    with pytest.raises(ImageError, match="no alpha"):
        save_image(x, tmp_path / "a.jpg", alpha)
    assert not (tmp_path / "a.jpg").exists()
    x[0, 1, 2] = float("nan")  # written, NaN would be a black pixel
    with pytest.raises(ImageError, match="NaN"):
        save_image(x, tmp_path / "nan.png")
    assert not (tmp_path / "nan.png").exists()


# ---- the commands ----




@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Three Fashion-MNIST test images as 32x32 PNGs, the first also at 8x8 and as RGBA, and a
    non-square image."""
    d = tmp_path_factory.mktemp("images")
    x, y = fashion_mnist_32("test", FIXTURE_FMNIST)
    x = to_unit_range(x[:3])
    save_image(x[0], d / "x.png")
    save_image(x[1], d / "x1.png")
    save_image(x[2], d / "x2.png")
    save_image(downsample(x[:1], 8)[0], d / "x8.png")
    save_image(torch.rand(1, 40, 32), d / "wide.png")  # 32 wide, 40 high
    x8 = (downsample(x[:1], 8)[0] * 255).round().byte()[0].numpy()
    alpha8 = np.linspace(0, 255, 64).reshape(8, 8).round().astype(np.uint8)
    Image.fromarray(np.stack([x8, x8, x8, alpha8], -1)).save(d / "x8_rgba.png")
    return d, y[:3].tolist()


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def uint8(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def test_superres_infers_the_class_and_writes_the_spread(images, tmp_path):
    d, labels = images
    out, std = tmp_path / "sr.png", tmp_path / "std.png"
    r = run("superres", d / "x8.png", "--model", "fmnist", "-o", out, "--steps", 3, "--uncertainty", std)
    assert r.exit_code == 0, r.stderr
    assert f"inferred class {labels[0]} ({FASHION_MNIST_CLASSES[labels[0]]})" in r.stdout
    assert uint8(out).shape == (32, 32)
    spread = load_image(std)
    assert spread.shape == (1, 32, 32) and 0 < spread.max() <= 1  # 3 chains disagree somewhere
    assert "spread mean" in r.stdout and "white = a spread of 0.25 or more" in r.stdout


def test_superres_scale_2_native_and_given_label_with_the_comparison_strip(images, tmp_path):
    d, _ = images
    out, strip = tmp_path / "sr.png", tmp_path / "strip.png"
    r = run("superres", d / "x8.png", "--model", "fmnist", "--scale", 2, "--native", "--label", 3, "-o", out, "--compare", strip)
    assert r.exit_code == 0, r.stderr
    assert "inferred" not in r.stdout and uint8(out).shape == (16, 16)
    s = load_image(strip)[0]
    assert s.shape == (16 + 4, 3 * 16 + 8)  # input, bicubic, output at 16x16, 2 px padding
    tiles = [s[2:18, 2 + 18 * i: 18 + 18 * i] for i in range(3)]
    x8 = load_image(d / "x8.png")[None]
    assert torch.allclose(tiles[0], x8.repeat_interleave(2, -1).repeat_interleave(2, -2)[0, 0], atol=1 / 255)
    assert torch.allclose(tiles[1], upscale(x8, 2, "bicubic")[0, 0], atol=1 / 255)
    assert torch.equal(tiles[2], load_image(out)[0])


def test_superres_resize_brings_the_input_to_the_needed_size(images, tmp_path):
    d, _ = images
    r = run("superres", d / "x.png", "--model", "fmnist", "--resize", "--native", "-o", tmp_path / "sr.png")
    assert r.exit_code == 0, r.stderr
    assert "resized to 8x8" in r.stdout and uint8(tmp_path / "sr.png").shape == (32, 32)


def test_inpaint_keeps_the_observed_pixels(images, tmp_path):
    d, _ = images
    out = tmp_path / "filled.png"
    r = run("inpaint", d / "x.png", "--model", "fmnist", "--box", 12, "--steps", 3, "-o", out)
    assert r.exit_code == 0, r.stderr
    x, x_hat = uint8(d / "x.png"), uint8(out)
    observed = np.ones((32, 32), bool)
    observed[10:22, 10:22] = False  # the centred 12x12 hole
    assert np.array_equal(x_hat[observed], x[observed])
    assert not np.array_equal(x_hat[~observed], x[~observed])


def test_inpaint_random_and_mask_files(images, tmp_path):
    d, _ = images
    r = run("inpaint", d / "x.png", "--model", "fmnist", "--random", 0.5, "--steps", 2, "-o", tmp_path / "a.png")
    assert r.exit_code == 0, r.stderr
    mask = np.zeros((32, 32), np.uint8)
    mask[:, :16] = 255  # left half observed
    Image.fromarray(mask).save(tmp_path / "mask.png")
    r = run("inpaint", d / "x.png", "--model", "fmnist", "--mask", tmp_path / "mask.png", "--steps", 2, "-o", tmp_path / "b.png")
    assert r.exit_code == 0, r.stderr
    assert np.array_equal(uint8(tmp_path / "b.png")[:, :16], uint8(d / "x.png")[:, :16])


def test_inpaint_resize_crops_a_non_square_image(images, tmp_path):
    d, _ = images
    r = run("inpaint", d / "wide.png", "--model", "fmnist", "--resize", "--box", 8, "--label", 0, "--steps", 2, "-o", tmp_path / "w.png")
    assert r.exit_code == 0, r.stderr
    assert "32x40 centre-cropped to a square and resized to 32x32" in r.stdout
    assert uint8(tmp_path / "w.png").shape == (32, 32)


def test_alpha_is_carried_through(images, tmp_path):
    d, _ = images
    out = tmp_path / "sr.png"
    r = run("superres", d / "x8_rgba.png", "--model", "fmnist", "--steps", 2, "-o", out)
    assert r.exit_code == 0, r.stderr
    with Image.open(out) as im:
        assert im.mode == "LA" and im.size == (32, 32)  # the model's one channel plus the input's alpha
    alpha = uint8(out)[..., 1].astype(float)
    assert alpha[0, 0] < 20 and alpha[-1, -1] > 235 and (np.diff(alpha, axis=1) >= 0).all()  # the ramp, upsampled


@pytest.mark.slow
def test_deblur_comes_closer_to_the_sharp_image_than_its_input(images, tmp_path):
    d, labels = images
    for i, name in enumerate(("x.png", "x1.png")):
        x = load_image(d / name)[None]
        blurred = operator_from_spec({"kind": "blur", "blur": "gaussian:1.5"}, (32, 32)).A(x).clamp(0, 1)
        save_image(blurred[0], tmp_path / f"blurred{i}.png")
        r = run("deblur", tmp_path / f"blurred{i}.png", "--model", "fmnist", "--blur", "gaussian:1.5", "--steps", 10,
                "--label", labels[i], "-o", tmp_path / f"sharp{i}.png")
        assert r.exit_code == 0, r.stderr
        x, y, x_hat = (load_image(p)[None] for p in (d / name, tmp_path / f"blurred{i}.png", tmp_path / f"sharp{i}.png"))
        assert psnr(x_hat, x) > psnr(y, x) + 2  # measured: about 4.5 dB better on these two


def test_transfer_to_class_7_is_judged_class_7(images, tmp_path):
    d, labels = images
    model = pagoda_inverse.autoencoder.load("fmnist")
    judged = []
    for i, name in enumerate(("x.png", "x1.png", "x2.png")):
        r = run("transfer", d / name, "--to-class", 7, "-o", tmp_path / f"t{i}.png")
        assert r.exit_code == 0, r.stderr
        assert f"inferred class {labels[i]} ({FASHION_MNIST_CLASSES[labels[i]]})" in r.stdout
        assert "as class 7 (Sneaker)" in r.stdout
        out = load_image(tmp_path / f"t{i}.png")[None]
        assert out.shape == (1, 1, 32, 32)
        judged.append(int(model.classify(out).argmax(1)[0]))
    assert judged.count(7) >= 2, judged


def test_interpolate_strip_ends_are_the_decoded_encodings(images, tmp_path):
    d, labels = images
    r = run("interpolate", d / "x.png", d / "x1.png", "--frames", 4, "-o", tmp_path / "strip.png")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.count("inferred class") == 2
    strip = load_image(tmp_path / "strip.png")[0]
    assert strip.shape == (34, 4 * 33 + 1)  # 1 px padding around each image
    model = pagoda_inverse.autoencoder.load("fmnist")
    for k, name, label in ((0, "x.png", labels[0]), (3, "x1.png", labels[1])):
        x = load_image(d / name)[None]
        end = model.decode(model.encode(x, label), label)[0, 0]  # G(Enc(x)) through the API
        tile = strip[1:33, 1 + 33 * k: 33 + 33 * k]
        assert (tile - end).abs().max() <= 1.01 / 255  # equal up to the 8-bit file


@pytest.mark.slow
def test_entry_point_end_to_end(images, tmp_path):
    d, _ = images
    out, std = tmp_path / "sr.png", tmp_path / "std.png"
    env = {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    r = cli("superres", d / "x8.png", "--model", "fmnist", "-o", out, "--steps", 2, "--uncertainty", std, env=env)
    assert r.returncode == 0, r.stderr
    assert uint8(out).shape == (32, 32) and std.exists()
    r = cli("deblur", d / "x.png", "--model", "fmnist", "--blur", "wobble:3", "-o", tmp_path / "db.png", env=env)
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "wobble:3" in lines[0] and "no such kernel image" in lines[0]
    assert not (tmp_path / "db.png").exists()


def test_an_unconditional_model_takes_any_size_in_tiles(tiny_photo_model, tmp_path):
    rgb = (np.random.default_rng(0).random((12, 20, 3)) * 255).astype(np.uint8)  # 20 wide, 12 high: not a tile multiple
    alpha = np.tile(np.linspace(0, 255, 20).round().astype(np.uint8), (12, 1))
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "in.png")
    out = tmp_path / "sr.png"
    r = run("superres", tmp_path / "in.png", "--model", tiny_photo_model, "--scale", 2, "--steps", 1, "-o", out)
    assert r.exit_code == 0, r.output
    assert "40x24 from 20x12" in r.output
    with Image.open(out) as im:
        assert im.mode == "RGBA" and im.size == (40, 24)  # the alpha carried through, resized
    a = uint8(out)[..., 3].astype(float)
    assert a[0, 0] < 20 and a[0, -1] > 235 and (np.diff(a, axis=1) >= -1).all()
    # Inpainting at the image's own size: the observed pixels come back (to 8 bits), the hole is filled.
    r = run("inpaint", tmp_path / "in.png", "--model", tiny_photo_model, "--box", "2,3,6,5", "--steps", 1,
            "-o", tmp_path / "filled.png")
    assert r.exit_code == 0, r.output
    filled = uint8(tmp_path / "filled.png")
    assert filled.shape == (12, 20, 4)
    keep = np.ones((12, 20), bool)
    keep[2:8, 3:8] = False
    assert np.abs(filled[..., :3].astype(int) - rgb.astype(int))[keep].max() <= 1
