import os

import numpy as np
import pytest
import torch
from PIL import Image

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.io import (
    ImageData,
    from_array,
    from_pil,
    read_image,
    to_array,
    to_pil,
    write_image,
    write_image_data,
)
from pixelsmith.probe import find_images

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)
SMOOTH = np.stack(np.meshgrid(np.linspace(0, 255, 30), np.linspace(0, 255, 20)) + (np.full((20, 30), 128.0),),
                  -1).astype(np.uint8)


@pytest.mark.parametrize("mode,channels,alpha", [
    ("1", 1, False), ("L", 1, False), ("LA", 1, True), ("P", 3, False), ("RGB", 3, False),
    ("RGBA", 3, True), ("CMYK", 3, False), ("I;16", 1, False),
])
def test_read_every_mode(tmp_path, mode, channels, alpha):
    image = Image.fromarray(RGB).convert(mode) if mode != "I;16" else Image.fromarray(
        RGB[..., 0].astype(np.uint16) * 257)
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    image.save(path)
    data = read_image(path)
    assert data.pixels.shape == (channels, 20, 30)
    assert data.pixels.dtype == torch.float32
    assert 0 <= data.pixels.min() and data.pixels.max() <= 1
    assert (data.alpha is not None) == alpha
    assert data.bit_depth == (16 if mode == "I;16" else 8)


def test_rgb_values_exact(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "a.png")
    data = read_image(tmp_path / "a.png")
    assert torch.equal((data.pixels * 255).round().byte(), torch.from_numpy(RGB).permute(2, 0, 1))


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif", ".webp"])
def test_formats_roundtrip(tmp_path, suffix):
    pixels = torch.from_numpy(SMOOTH).permute(2, 0, 1).float() / 255  # smooth, so lossy codecs stay close
    write_image(tmp_path / f"a{suffix}", pixels)
    back = read_image(tmp_path / f"a{suffix}").pixels
    lossy = suffix in (".jpg", ".webp")
    assert back.shape == pixels.shape
    assert (back - pixels).abs().mean() < (0.02 if lossy else 1e-6)


def test_16bit_gray_and_rgb_roundtrip(tmp_path):
    gray = torch.linspace(0, 1, 40 * 50).reshape(1, 40, 50)
    write_image(tmp_path / "g.png", gray, bit_depth=16)
    back = read_image(tmp_path / "g.png")
    assert back.bit_depth == 16 and (back.pixels - gray).abs().max() < 1 / 65535
    rgb = torch.rand(3, 16, 24, generator=torch.Generator().manual_seed(1))
    for suffix in (".png", ".tif"):
        write_image(tmp_path / f"c{suffix}", rgb, bit_depth=16)
        back = read_image(tmp_path / f"c{suffix}")
        assert back.bit_depth == 16 and back.pixels.shape == (3, 16, 24)
        assert (back.pixels - rgb).abs().max() < 1 / 65535  # finer than 8 bits can hold


def test_alpha_carried_through(tmp_path):
    rgba = RGB.copy()
    rgba = np.dstack([rgba, RNG.integers(0, 256, (20, 30), dtype=np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    data = read_image(tmp_path / "a.png")
    write_image_data(tmp_path / "b.png", data, data.pixels * 0.5)
    out = np.asarray(Image.open(tmp_path / "b.png"))
    assert out.shape == (20, 30, 4)
    assert np.array_equal(out[..., 3], rgba[..., 3])


def test_exif_orientation_applied(tmp_path):
    image = Image.fromarray(RGB)  # 30 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image.save(tmp_path / "r.jpg", exif=exif, quality=100)
    assert read_image(tmp_path / "r.jpg").pixels.shape == (3, 30, 20)


def test_not_an_image(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    with pytest.raises(PixelsmithError, match="notes.png"):
        read_image(bad)


def test_truncated_image(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(PixelsmithError, match="t.png"):
        read_image(tmp_path / "t.png")


def test_pixel_limit(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "big.png")
    with pytest.raises(PixelsmithError, match="big.png.*exceeds"):
        read_image(tmp_path / "big.png", max_pixels=100)


def test_missing_file(tmp_path):
    with pytest.raises(PixelsmithError, match="no such file"):
        read_image(tmp_path / "none.png")


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    write_image(target, torch.zeros(1, 8, 8))
    before = target.read_bytes()

    def explode(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", explode)
    with pytest.raises(OSError):
        write_image(target, torch.ones(1, 8, 8))
    assert target.read_bytes() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temp file left behind


def test_write_rejects_bad_shape_and_suffix(tmp_path):
    with pytest.raises(PixelsmithError, match="C = 1 or 3"):
        write_image(tmp_path / "a.png", torch.zeros(2, 4, 4))
    with pytest.raises(PixelsmithError, match="unknown output format"):
        write_image(tmp_path / "a.xyz", torch.zeros(1, 4, 4))


def test_find_images(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.fromarray(RGB).save(tmp_path / "sub" / "a.png")
    (tmp_path / "readme.txt").write_text("x")
    assert find_images(tmp_path) == [tmp_path / "sub" / "a.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(PixelsmithError, match="no images"):
        find_images(tmp_path / "empty")


def test_png_transparency_chunk_becomes_alpha(tmp_path):
    gray = Image.fromarray(np.array([[0, 50], [100, 0]], np.uint8))
    gray.save(tmp_path / "t.png", transparency=0)
    data = read_image(tmp_path / "t.png")
    assert data.pixels.shape == (1, 2, 2)
    assert data.alpha is not None and data.alpha.flatten().tolist() == [0, 1, 1, 0]


def test_16bit_gray_with_alpha_writes(tmp_path):
    gray = torch.rand(1, 8, 8)
    alpha = torch.rand(1, 8, 8)
    write_image(tmp_path / "ga.png", gray, alpha, bit_depth=16)
    back = read_image(tmp_path / "ga.png")
    assert back.bit_depth == 16 and (back.alpha - alpha).abs().max() < 1e-4
    assert (back.pixels - gray).abs().max() < 1e-4  # gray kept in every channel


def test_written_files_have_normal_permissions(tmp_path):
    write_image(tmp_path / "p.png", torch.zeros(1, 4, 4))
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "p.png").stat().st_mode & 0o777 == 0o666 & ~mask


# ---- images in memory: PIL and numpy -------------------------------------------------------------------
@pytest.mark.parametrize("mode,channels,alpha,depth", [
    ("L", 1, False, 8), ("LA", 1, True, 8), ("RGB", 3, False, 8), ("RGBA", 3, True, 8), ("P", 3, False, 8),
    ("I;16", 1, False, 16),
])
def test_pil_images_of_every_mode_round_trip(mode, channels, alpha, depth):
    image = Image.fromarray(RGB).convert(mode) if mode != "I;16" else Image.fromarray(
        RGB[..., 0].astype(np.uint16) * 257)
    data = from_pil(image)
    assert data.pixels.shape == (channels, 20, 30) and data.pixels.dtype == torch.float32
    assert (data.alpha is not None) == alpha and data.bit_depth == depth
    assert 0 <= data.pixels.min() and data.pixels.max() <= 1
    back = to_pil(data)
    expected = {"P": "RGB", "I;16": "I;16"}.get(mode, mode)
    assert back.mode == expected and back.size == (30, 20)
    assert np.array_equal(np.asarray(back), np.asarray(image.convert(expected) if mode == "P" else image))


def test_sixteen_bit_colour_comes_back_from_pil_at_eight_bits():
    data = ImageData(torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(2)), None, 16)
    back = to_pil(data)
    error = np.abs(np.asarray(back) / 255 - data.pixels.permute(1, 2, 0).numpy()).max()
    assert back.mode == "RGB" and error <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("dtype,depth", [(np.uint8, 8), (np.uint16, 16)])
@pytest.mark.parametrize("shape,channels,alpha", [((20, 30), 1, False), ((20, 30, 1), 1, False),
                                                  ((20, 30, 2), 1, True), ((20, 30, 3), 3, False),
                                                  ((20, 30, 4), 3, True)])
def test_arrays_round_trip_exactly(dtype, depth, shape, channels, alpha):
    array = np.random.default_rng(1).integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    data = from_array(array)
    assert data.pixels.shape == (channels, 20, 30) and (data.alpha is not None) == alpha
    assert data.bit_depth == depth and 0 <= data.pixels.min() and data.pixels.max() <= 1
    back = to_array(data)
    assert back.dtype == dtype and np.array_equal(back, array.reshape(20, 30) if shape[-1:] == (1,) else array)


@pytest.mark.parametrize("array,words", [
    (np.zeros((4, 4), np.float32), "float32 array; accepted: uint8 or uint16"),
    (np.zeros((4, 4, 5), np.uint8), "shape (4, 4, 5)"),
    (np.zeros((2, 4, 4, 3), np.uint8), "shape (2, 4, 4, 3)"),
    (np.zeros((0, 4), np.uint8), "shape (0, 4, 1)"),
])
def test_arrays_that_are_no_image_are_usage_errors(array, words):
    with pytest.raises(UsageError) as info:
        from_array(array)
    assert words in str(info.value)


def test_a_gray_palette_image_is_read_as_gray(tmp_path):
    """A GIF (or palette PNG) of grays is one channel, as its look is; a coloured palette stays RGB."""
    gray = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8) * 5)
    gray.convert("P").save(tmp_path / "gray.gif")
    image = read_image(tmp_path / "gray.gif")
    assert image.pixels.shape == (1, 6, 8)
    assert torch.equal(image.pixels.mul(255).round(), torch.from_numpy(np.array(gray)).float()[None])
    colour = Image.fromarray(np.dstack([np.full((6, 8), v, np.uint8) for v in (200, 100, 50)]))
    colour.convert("P").save(tmp_path / "colour.gif")
    assert read_image(tmp_path / "colour.gif").pixels.shape == (3, 6, 8)
