import gzip

import pytest
import torch
from PIL import Image

from pixelsmith import PixelsmithError
from pixelsmith.data.folder import ImageFolder
from pixelsmith.data.idx import IDXDataset, read_idx
from pixelsmith.data.patches import NoisyPatches


def test_idx_reader(tiny_mnist):
    ds = IDXDataset(tiny_mnist, train=True)
    image, label = ds[3]
    assert len(ds) == 64 and image.shape == (1, 28, 28) and 0 <= image.min() and image.max() == 1
    assert 0 <= int(label) <= 9
    assert torch.equal(ds[3][0], ds[3 + 64][0])  # keys wrap around
    assert len(IDXDataset(tiny_mnist, train=False)) == 16


def test_idx_missing_and_truncated(tmp_path, tiny_mnist):
    with pytest.raises(PixelsmithError, match="not found.*--download"):
        IDXDataset(tmp_path)
    path = tiny_mnist / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(PixelsmithError, match="truncated"):
        read_idx(path)
    path.write_bytes(gzip.compress(b"\x01\x02" + data[2:]))
    with pytest.raises(PixelsmithError, match="magic"):
        read_idx(path)


@pytest.mark.skipif(not (__import__("conftest").SHARED / "mnist").is_dir(), reason="../shared/data not present")
def test_real_mnist():
    from conftest import SHARED

    ds = IDXDataset(SHARED / "mnist", train=False)
    assert len(ds) == 10000 and int(ds[0][1]) == 7  # the first MNIST test digit is a 7


def test_image_folder_classes(tmp_path):
    for cls in ("cats", "dogs"):
        (tmp_path / cls / "deep").mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 30), (i * 100, 50, 0)).save(tmp_path / cls / "deep" / f"{i}.jpg")
    ds = ImageFolder(tmp_path, size=16, channels=3)
    assert len(ds) == 4 and ds.classes == ["cats", "dogs"]
    assert [ds[i][1] for i in range(4)] == [0, 0, 1, 1]
    assert ds[0][0].shape == (3, 16, 16)


def test_image_folder_errors(tmp_path):
    with pytest.raises(PixelsmithError, match="no images"):
        ImageFolder(tmp_path)
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(PixelsmithError, match="bad.png"):
        ImageFolder(tmp_path)[0]


def test_patches_are_deterministic_and_noisy(gray_folder):
    ds = NoisyPatches.from_folder(gray_folder, seed=3, holdout=2, patch_size=32, sigma_max=50)
    noisy, clean = ds[5]
    assert noisy.shape == clean.shape == (1, 32, 32)
    again = NoisyPatches.from_folder(gray_folder, seed=3, holdout=2, patch_size=32, sigma_max=50)[5]
    assert torch.equal(noisy, again[0]) and torch.equal(clean, again[1])
    assert not torch.equal(ds[5][0], ds[15][0])  # same image, another epoch: another crop and noise
    levels = torch.stack([(ds[k][0] - ds[k][1]).std() * 255 for k in range(200)])
    assert 5 < levels.mean() < 45 and levels.max() < 60


def test_patches_bigger_than_images(gray_folder):
    with pytest.raises(PixelsmithError, match="patch_size=100"):
        NoisyPatches.from_folder(gray_folder, patch_size=100)
