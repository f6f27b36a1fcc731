"""Making test inputs (pipelines.degrade): each degradation seeded by the seed and the file's name, applied in
the order a camera and a web pipeline would, written as files are; the options it refuses."""

import numpy as np
import pytest
import torch
from PIL import Image

from pixelsmith import UsageError
from pixelsmith.io import ImageData, read_image, write_image
from pixelsmith.jpeg import jpeg_quality
from pixelsmith.pipelines.degrade import (
    DegradeOptions,
    check_degrade_options,
    degrade_files,
    degrade_image,
)


def flat(name, channels=1, alpha=None):
    return ImageData(torch.full((channels, 64, 64), 0.5), alpha, 8, f"/some/folder/{name}")


def test_noise_is_seeded_by_seed_and_file_name():
    opts = DegradeOptions(noise=25, seed=1)
    a = degrade_image(flat("a.png"), opts).pixels
    assert torch.equal(a, degrade_image(ImageData(torch.full((1, 64, 64), 0.5), None, 8, "/elsewhere/a.png"),
                                        opts).pixels)  # the same name wherever its folder lies
    assert not torch.equal(a, degrade_image(flat("b.png"), opts).pixels)  # another file, other noise
    assert not torch.equal(a, degrade_image(flat("a.png"), DegradeOptions(noise=25, seed=2)).pixels)
    assert 23 < (a - 0.5).std() * 255 < 27 and a.min() >= 0 and a.max() <= 1


def test_downscaling_scales_the_alpha_and_holes_become_transparent():
    alpha = torch.ones(1, 64, 64)
    alpha[:, 16:32] = 0
    small = degrade_image(flat("a.png", 3, alpha), DegradeOptions(downscale=2))
    assert small.pixels.shape == (3, 32, 32) and small.alpha.shape == (1, 32, 32)
    assert small.alpha[:, 10:14].max() < 0.05 and small.alpha[:, 20:].min() > 0.95
    holes = degrade_image(flat("a.png", 3, alpha), DegradeOptions(mask="box", seed=3))
    assert torch.equal(holes.pixels, flat("a.png", 3).pixels)  # the pixels are kept; the holes are marked in alpha
    assert holes.alpha[:, 16:32].max() == 0  # the old transparent rows stay transparent
    assert (alpha == 0).sum() < (holes.alpha == 0).sum() < 0.6 * alpha.numel()  # and a box more


def test_blur_with_a_delta_kernel_changes_nothing(tmp_path):
    delta = np.zeros((3, 3), np.uint8)
    delta[1, 1] = 255
    Image.fromarray(delta).save(tmp_path / "delta.png")
    image = ImageData(torch.rand(3, 20, 24), None, 8, "x.png")
    assert torch.allclose(degrade_image(image, DegradeOptions(blur=str(tmp_path / "delta.png"))).pixels,
                          image.pixels, atol=1e-6)


def test_jpeg_writes_a_real_jpeg_or_its_pixels(tmp_path, camera):
    write_image(tmp_path / "c.png", camera[:, :64, :64])
    degrade_files(tmp_path / "c.png", tmp_path / "d.jpg", DegradeOptions(jpeg=30))
    assert jpeg_quality(str(tmp_path / "d.jpg")) == 30
    degrade_files(tmp_path / "c.png", tmp_path / "d.png", DegradeOptions(jpeg=30))
    as_png, as_jpeg = read_image(tmp_path / "d.png").pixels, read_image(tmp_path / "d.jpg").pixels
    assert 0 < (as_png - camera[:, :64, :64]).abs().mean() < 0.05
    assert (as_png - as_jpeg).abs().max() < 2 / 255  # the same JPEG, once decoded into a PNG


def test_poisson_noise_grows_with_brightness():
    image = ImageData(torch.cat([torch.full((1, 96, 48), 0.1), torch.full((1, 96, 48), 0.4)], -1), None, 16, "f.png")
    noise = degrade_image(image, DegradeOptions(poisson=30)).pixels - image.pixels
    dark, bright = noise[..., :48].std(), noise[..., 48:].std()
    assert abs(dark - (0.1 / 30) ** 0.5) < 0.1 * (0.1 / 30) ** 0.5  # variance = signal / photons
    assert abs(bright - (0.4 / 30) ** 0.5) < 0.1 * (0.4 / 30) ** 0.5


def test_a_folder_is_degraded_file_by_file_and_in_shards(tmp_path):
    for i in range(5):
        write_image(tmp_path / "in" / f"{i}.png", torch.full((1, 16, 16), 0.5))
    shards = [degrade_files(tmp_path / "in", tmp_path / "out", DegradeOptions(noise=10), shard=(r, 2)) for r in (0, 1)]
    assert [len(s.written) for s in shards] == [3, 2] and not any(s.errors for s in shards)
    noisy = [read_image(tmp_path / "out" / f"{i}.png").pixels for i in range(5)]
    assert all(not torch.equal(noisy[0], n) for n in noisy[1:])  # each file its own noise
    again = degrade_files(tmp_path / "in", tmp_path / "out", DegradeOptions(noise=10))
    assert len(again.skipped) == 5 and not again.written


@pytest.mark.parametrize("opts,words", [
    (DegradeOptions(), "nothing to do"),
    (DegradeOptions(downscale=5), "downscale=5 is not supported; accepted: 2, 3, 4"),
    (DegradeOptions(mask="circles"), "mask=circles is not known; accepted: strokes, box, pixels, text"),
    (DegradeOptions(jpeg=0), "jpeg=0 is out of range"),
    (DegradeOptions(poisson=-1), "poisson=-1 must be positive"),
    (DegradeOptions(blur="gaussian:abc"), "blur=gaussian:abc is not a kernel"),
    (DegradeOptions(noise=-5), "noise=-5 is out of range"),
    (DegradeOptions(noise=999), "noise=999 is out of range"),
], ids=["nothing", "downscale", "mask", "jpeg", "poisson", "blur", "noise-low", "noise-high"])
def test_bad_options_name_the_parameter(tmp_path, opts, words):
    with pytest.raises(UsageError) as info:
        check_degrade_options(opts)
    assert words in str(info.value)
    with pytest.raises(UsageError):
        degrade_files(tmp_path / "missing.png", tmp_path / "o.png", opts)  # refused before the file is looked at
