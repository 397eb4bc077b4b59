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
