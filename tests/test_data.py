import gzip

import pytest
import torch
from conftest import SHARED
from PIL import Image

from pixelsmith import PixelsmithError
from pixelsmith.data.folder import ImageFolder
from pixelsmith.data.idx import IDXDataset, read_idx
from pixelsmith.data.patches import RestorationPatches


def test_idx_reader(tiny_mnist):
    ds = IDXDataset(tiny_mnist, train=True)
    image, label = ds[3]
    assert len(ds) == 64 and image.shape == (1, 28, 28) and 0 <= image.min() and image.max() == 1
    assert 0 <= int(label) <= 9
    assert torch.equal(ds[3][0], ds[3 + 64][0])  # keys wrap around
    assert len(IDXDataset(tiny_mnist, train=False)) == 16


def test_idx_missing_and_truncated(tmp_path, tiny_mnist):
    with pytest.raises(PixelsmithError, match="not found.*pass download=True"):
        IDXDataset(tmp_path)
    path = tiny_mnist / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(PixelsmithError, match="truncated"):
        read_idx(path)
    path.write_bytes(gzip.compress(b"\x01\x02" + data[2:]))
    with pytest.raises(PixelsmithError, match="magic"):
        read_idx(path)


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="../shared/data not present")
def test_real_mnist():
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
    ds = RestorationPatches.from_folder(gray_folder, seed=3, holdout=2, patch_size=32, sigma_max=50)
    noisy, cond, clean = ds[5]
    assert noisy.shape == clean.shape == (1, 32, 32)
    assert cond.shape == (0, 32, 32)  # a blind model gets no condition
    again = RestorationPatches.from_folder(gray_folder, seed=3, holdout=2, patch_size=32, sigma_max=50)[5]
    assert torch.equal(noisy, again[0]) and torch.equal(clean, again[2])
    assert not torch.equal(ds[5][0], ds[15][0])  # same image, another epoch: another crop and noise
    levels = torch.stack([(ds[k][0] - ds[k][2]).std() * 255 for k in range(200)])
    assert 5 < levels.mean() < 45 and levels.max() < 60


def test_patches_bigger_than_images(gray_folder):
    with pytest.raises(PixelsmithError, match="patch_size=100"):
        RestorationPatches.from_folder(gray_folder, patch_size=100)


def test_noise_map_condition_is_the_noise_level(gray_folder):
    """With noise_map the condition is sigma/255 per pixel: the noise divided by it is unit Gaussian."""
    ds = RestorationPatches.from_folder(gray_folder, holdout=2, patch_size=32, sigma_max=60, noise_map=True)
    z, levels = [], []
    for k in range(60):
        noisy, cond, clean = ds[k]
        assert cond.shape == (1, 32, 32) and cond.min() >= 0 and cond.max() <= 60 / 255 + 1e-6
        levels.append(cond.mean())
        keep = cond > 3 / 255
        z.append(((noisy - clean)[keep] / cond[keep]))
    z = torch.cat(z)
    assert 0.95 < z.std() < 1.05 and abs(z.mean()) < 0.05  # clip_prob=0: the noise is exactly sigma * N(0,1)
    assert torch.stack(levels).std() > 5 / 255  # the level varies from patch to patch


def test_noise_patches_sigma_draw(gray_folder):
    """sigma_draw='uniform' trains lower levels more often than the default; an unknown draw is refused."""
    def mean_level(draw):
        ds = RestorationPatches.from_folder(gray_folder, holdout=2, patch_size=32, sigma_max=60, noise_map=True,
                                            sigma_draw=draw)
        return float(torch.stack([ds[k][1].mean() for k in range(300)]).mean() * 255)

    assert mean_level("uniform") < 0.85 * mean_level("max")
    with pytest.raises(PixelsmithError, match="sigma_draw='low'.*accepted: max, uniform"):
        RestorationPatches.from_folder(gray_folder, holdout=2, patch_size=32, sigma_draw="low")


def test_jpeg_patches_condition_names_the_quality(gray_folder):
    from pixelsmith.degradations import jpeg_compress

    ds = RestorationPatches.from_folder(gray_folder, holdout=2, patch_size=32, degradation="jpeg",
                                        quality_min=20, quality_max=60)
    qualities = set()
    for k in range(12):
        degraded, cond, clean = ds[k]
        assert cond.shape == (1, 32, 32) and cond.min() == cond.max()  # one quality per patch
        quality = round(100 - 100 * cond[0, 0, 0].item())
        assert 20 <= quality <= 60
        assert torch.equal(degraded, jpeg_compress(clean, quality))  # the condition is the quality used
        qualities.add(quality)
    assert len(qualities) > 3


def test_jpeg_quality_bias_favours_low_qualities(gray_folder):
    def qualities(bias):
        ds = RestorationPatches.from_folder(gray_folder, holdout=2, patch_size=16, degradation="jpeg",
                                            quality_min=10, quality_max=90, quality_bias=bias)
        return torch.tensor([100 - 100 * ds[k][1][0, 0, 0].item() for k in range(300)])

    flat, low = qualities(1.0), qualities(3.0)
    assert 40 < flat.median() < 60  # uniform over 10-90
    assert low.median() < 25 and low.min() >= 10 - 1e-3 and low.max() <= 90 + 1e-3  # u**3: median 10 + 80/8
    with pytest.raises(PixelsmithError, match="quality_bias=0"):
        RestorationPatches.from_folder(gray_folder, holdout=2, degradation="jpeg", quality_bias=0, patch_size=16)


def test_inpaint_patches_zero_the_holes(gray_folder):
    ds = RestorationPatches.from_folder(gray_folder, holdout=2, patch_size=48, degradation="inpaint")
    for k in range(12):
        degraded, mask, clean = ds[k]
        assert mask.shape == (1, 48, 48) and set(mask.unique().tolist()) == {0.0, 1.0}  # binary, never empty or full
        assert torch.equal(degraded, clean * (1 - mask))


def test_patches_from_several_folders_in_colour(tmp_path, gray_folder):
    from pixelsmith.io import write_image

    colour = tmp_path / "colour"
    for i in range(5):
        write_image(colour / f"{i}.png", torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(i)))
    train = RestorationPatches.from_folder(f"{gray_folder},{colour}", holdout=2, channels=3, patch_size=32)
    held = RestorationPatches.from_folder(f"{gray_folder},{colour}", holdout=2, channels=3, patch_size=32,
                                          train=False)
    assert len(train) == (12 - 2) + (5 - 2) and len(held) == 2 + 2  # the holdout is taken from each folder
    assert train[0][0].shape == (3, 32, 32)
    with pytest.raises(PixelsmithError, match="need more than holdout=5"):
        RestorationPatches.from_folder(f"{gray_folder},{colour}", holdout=5)
    with pytest.raises(PixelsmithError, match="accepted: noise, jpeg, inpaint"):
        RestorationPatches.from_folder(gray_folder, holdout=2, patch_size=32, degradation="blur")


# ---- a recipe's data set -------------------------------------------------------------------------------
def test_a_recipe_names_its_data_set(tiny_mnist, gray_folder):
    from pixelsmith.config import TrainConfig
    from pixelsmith.data import build_dataset

    mnist = build_dataset(TrainConfig(data="mnist", data_root=str(tiny_mnist)))
    assert isinstance(mnist, IDXDataset) and len(mnist) == 64
    assert len(build_dataset(TrainConfig(data="mnist", data_root=str(tiny_mnist)), train=False)) == 16
    folder = build_dataset(TrainConfig(data="folder", data_root=str(gray_folder), data_args={"size": 16}))
    assert isinstance(folder, ImageFolder) and folder[0][0].shape == (1, 16, 16)
    cfg = TrainConfig(objective="restore", data="patches", data_root=str(gray_folder),
                      data_args={"patch_size": 32, "holdout": 2})
    train, held = build_dataset(cfg), build_dataset(cfg, train=False)
    assert isinstance(train, RestorationPatches) and (len(train), len(held)) == (10, 2)
    with pytest.raises(PixelsmithError, match="bad data_args for data='folder'.*colour"):
        build_dataset(TrainConfig(data="folder", data_root=str(gray_folder), data_args={"colour": 3}))
