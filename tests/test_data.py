"""Data: the IDX reader on the committed fixture, the one resampling rule, image folders, and clear errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pagoda_inverse.data import (DataError, ImageError, downsample, fashion_mnist_32, image_folder, load_fashion_mnist_uint8,
                                 load_image, save_image)

from conftest import FIXTURE_FMNIST


def test_fixture_reads_as_fashion_mnist():
    images, labels = load_fashion_mnist_uint8("test", FIXTURE_FMNIST)
    assert images.shape == (300, 28, 28) and images.dtype == np.uint8
    assert sorted(set(labels.tolist())) == list(range(10))
    x, y = fashion_mnist_32("test", FIXTURE_FMNIST)
    assert x.shape == (300, 1, 32, 32) and x.min() == -1 and x.max() == 1
    assert (x[:, :, :2] == -1).all() and (x[:, :, :, -2:] == -1).all()  # black padding
    assert torch.equal(y, torch.from_numpy(labels.astype(np.int64)))


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist_32("train", tmp_path)


def test_downsample_is_box_filter_for_powers_of_two():
    x = torch.rand(3, 1, 32, 32)
    torch.testing.assert_close(downsample(x, 8), F.avg_pool2d(x, 4))
    # Mean-preserving for any factor, exact on constants.
    y = downsample(torch.full((1, 3, 48, 48), 0.3), 20)
    torch.testing.assert_close(y, torch.full_like(y, 0.3))


def test_pillow_kernels_and_the_seeded_lowres_mix():
    from PIL import Image

    from pagoda_inverse.data import DataConfig, load_training_data
    from pagoda_inverse.data.resize import LOWRES_KERNELS, degrade, degrade_mix, lowres_draw, resize_pil

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 64, generator=g)
    torch.testing.assert_close(resize_pil(x, 16, "box"), F.avg_pool2d(x, 4), atol=1e-5, rtol=0)
    # The float path per channel is what Pillow gives a user's 8-bit RGB photo (to its rounding).
    u8 = (x[0] * 255).round().to(torch.uint8)
    for kernel, f in zip(LOWRES_KERNELS, ("BOX", "BILINEAR", "BICUBIC", "LANCZOS")):
        ref = np.asarray(Image.fromarray(u8.permute(1, 2, 0).numpy()).resize((16, 16), getattr(Image.Resampling, f)))
        ours = degrade(u8[None].float() / 255, 16, kernel)[0].permute(1, 2, 0).numpy() * 255
        assert np.abs(ours - ref).max() <= 1.0 + 1e-4, kernel
    assert not torch.allclose(resize_pil(x, 16, "lanczos"), resize_pil(x, 16, "box"), atol=1e-3)
    with pytest.raises(ValueError, match="unknown resampling kernel"):
        resize_pil(x, 16, "nearest")
    # Each image's kernel and blur are a function of (seed, index): all kernels, blur half the time, at most 1 px.
    draws = [lowres_draw(0, i) for i in range(400)]
    assert draws == [lowres_draw(0, i) for i in range(400)] and draws != [lowres_draw(1, i) for i in range(400)]
    assert {k for k, _ in draws} == set(LOWRES_KERNELS)
    blurred = [s for _, s in draws if s > 0]
    assert 150 < len(blurred) < 250 and max(blurred) <= 1.0
    mixed = degrade_mix(x, 16, seed=3, first_index=10)
    for i in range(2):
        torch.testing.assert_close(mixed[i:i + 1], degrade(x[i:i + 1], 16, *lowres_draw(3, 10 + i)))
    assert torch.equal((mixed * 255).round(), mixed * 255) and 0 <= mixed.min() and mixed.max() <= 1
    # The training data: "mix" is another low-resolution set of the same images; unknown rules are refused.
    cfg = DataConfig(root=str(FIXTURE_FMNIST), resolution=8)
    plain, mix = load_training_data(cfg)[0][:50], load_training_data(cfg, lowres="mix")[0][:50]
    assert plain.shape == mix.shape and 0 < (plain - mix).abs().mean() < 0.1
    with pytest.raises(DataError, match="unknown lowres"):
        load_training_data(cfg, lowres="nearest")


def test_image_roundtrip_and_folder_dataset(tmp_path):
    for cls, value in (("cats", 0.2), ("dogs", 0.8)):
        (tmp_path / cls).mkdir()
        for i in range(3):
            save_image(torch.full((3, 20, 24), value), tmp_path / cls / f"{i}.png")
    img = load_image(tmp_path / "cats" / "0.png")
    assert img.shape == (3, 20, 24) and abs(img.mean().item() - 51 / 255) < 1e-6
    x, y, classes = image_folder(tmp_path, 8, channels=3)
    assert x.shape == (6, 3, 8, 8) and classes == ["cats", "dogs"] and y.tolist() == [0, 0, 0, 1, 1, 1]
    assert abs(x[:3].mean().item() - (2 * 51 / 255 - 1)) < 1e-5  # scaled to [-1, 1]


def test_unreadable_image_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(bad)
