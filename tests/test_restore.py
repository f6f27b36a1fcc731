"""Restoration of images and files (pipelines.restore): options checked once before any file is read, what
happens to alpha and masks in each task, the JPEG quality and table read from the file, and folders."""

import numpy as np
import pytest
import torch
from conftest import gen, hole
from PIL import Image

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.hub import save_pretrained
from pixelsmith.io import ImageData, read_image, write_image
from pixelsmith.pipelines.restore import (
    RestoreOptions,
    check_options,
    restore_files,
    restore_image,
)
from pixelsmith.registry import create_model


@pytest.fixture
def rgba(astronaut):
    """The astronaut crop with a transparent block (alpha 0) at rows 40-52, columns 8-30."""
    alpha = torch.ones(1, 96, 128)
    alpha[:, 40:52, 8:30] = 0
    return ImageData(astronaut, alpha)


def test_check_options_refuses_before_reading(tmp_path):
    save_pretrained(create_model("resunet", widths=[8, 16], blocks=1), tmp_path / "untrained")
    for opts, message in [
        (RestoreOptions(task="deblur"), "deblur needs kernel=gaussian:SIGMA"),
        (RestoreOptions(task="deblur", kernel="box:3"), "kernel=box:3 is not a kernel"),
        (RestoreOptions(task="sr", scale=5), "scale=5 is not supported"),
        (RestoreOptions(task="jpeg", quality=101), "quality=101 is out of range"),
        (RestoreOptions(task="denoise", sigma=-3), "sigma=-3 is out of range"),
        (RestoreOptions(task="inpaint", mask=str(tmp_path / "none.png")), "mask=.*none.png: no such file"),
        (RestoreOptions(task="denoise", iterations=0), "iterations=0 must be at least 1"),
        (RestoreOptions(task="denoise", colour="rainbow"), "colour=rainbow is not known"),
        (RestoreOptions(task="deblur", method="telea", kernel="gaussian:1"), "accepted: model, wiener, rl"),
        (RestoreOptions(task="paint"), "task=paint is not known; accepted: denoise, inpaint, sr, deblur, jpeg"),
    ]:
        with pytest.raises(UsageError, match=message):
            check_options(opts)
    check_options(RestoreOptions(task="deblur", kernel="motion:9:30"))
    check_options(RestoreOptions(task="denoise", method="nlm", model=str(tmp_path / "untrained")))  # not used


def test_the_input_is_read_before_the_model_is_loaded(tmp_path):
    """A bad input is refused before any model is loaded; then a model that does not fit the task is refused
    before anything is written."""
    save_pretrained(create_model("resunet", widths=[8, 16], blocks=1), tmp_path / "untrained")
    (tmp_path / "zero.png").write_bytes(b"")
    write_image(tmp_path / "good.png", torch.rand(1, 8, 8, generator=gen(0)))
    for opts, message in [(RestoreOptions(task="inpaint", model=str(tmp_path / "untrained")), "does not say what it"),
                          (RestoreOptions(task="jpeg", model="resunet-denoise-gray"), "is not a model for jpeg")]:
        with pytest.raises(PixelsmithError, match="zero.png: not a readable image"):
            restore_files(tmp_path / "zero.png", tmp_path / "out.png", opts)
        with pytest.raises(UsageError, match=message):
            restore_files(tmp_path / "good.png", tmp_path / "out.png", opts)
        assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("task,opts", [("denoise", {"sigma": 10, "ensemble": False}),
                                       ("deblur", {"kernel": "gaussian:1.2", "iterations": 2}),
                                       ("jpeg", {"quality": 30, "ensemble": False})])
def test_alpha_passes_through_untouched(rgba, task, opts):
    out = restore_image(rgba, RestoreOptions(task=task, **opts))
    assert out.pixels.shape == rgba.pixels.shape and torch.equal(out.alpha, rgba.alpha)
    assert out.bit_depth == rgba.bit_depth


def test_super_resolution_scales_the_alpha_too(rgba):
    out = restore_image(rgba, RestoreOptions(task="sr", scale=2, method="bicubic"))
    assert out.pixels.shape == (3, 192, 256) and out.alpha.shape == (1, 192, 256)
    assert out.alpha[:, 84:100, 20:56].max() < 0.05 and out.alpha[:, :60].min() > 0.95


def test_transparent_pixels_are_inpainted_and_the_result_is_opaque(rgba):
    out = restore_image(rgba, RestoreOptions(task="inpaint", ensemble=False))
    assert out.alpha is None  # the holes are filled
    opaque = (rgba.alpha > 0.5).expand_as(rgba.pixels)
    assert torch.equal(out.pixels[opaque], rgba.pixels[opaque])
    other = ImageData(torch.where(opaque, rgba.pixels, 1 - rgba.pixels), rgba.alpha)
    assert torch.equal(restore_image(other, RestoreOptions(task="inpaint", ensemble=False)).pixels, out.pixels)


def test_a_mask_given_replaces_the_alpha_and_keeps_it(rgba, tmp_path):
    mask = hole(96, 128)
    out = restore_image(rgba, RestoreOptions(task="inpaint", ensemble=False), mask=mask)
    assert torch.equal(out.alpha, rgba.alpha)  # the alpha was not the holes, so it stays
    known = (mask == 0).expand_as(rgba.pixels)
    assert torch.equal(out.pixels[known], rgba.pixels[known]) and not torch.equal(out.pixels, rgba.pixels)
    Image.fromarray((mask[0].numpy() * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    from_file = restore_image(rgba, RestoreOptions(task="inpaint", ensemble=False, mask=str(tmp_path / "mask.png")))
    assert torch.equal(from_file.pixels, out.pixels)
    with pytest.raises(PixelsmithError, match="the mask must match the image"):
        restore_image(rgba, RestoreOptions(task="inpaint"), mask=torch.zeros(1, 10, 10))


def test_an_image_without_holes_has_nothing_to_inpaint(astronaut):
    with pytest.raises(PixelsmithError, match="nothing to inpaint; pass mask=FILE"):
        restore_image(ImageData(astronaut), RestoreOptions(task="inpaint"))
    with pytest.raises(PixelsmithError, match="nothing to inpaint"):
        restore_image(ImageData(astronaut, torch.ones(1, 96, 128)), RestoreOptions(task="inpaint"))


def test_jpeg_quality_and_table_are_read_from_the_file(tmp_path, astronaut):
    """Without quality= the file's tables give it: the result equals naming that quality, and differs from
    naming another (the quality given wins)."""
    pixels = (astronaut.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "q30.jpg", quality=30)
    image = read_image(tmp_path / "q30.jpg")
    read, named = (restore_image(image, RestoreOptions(task="jpeg", quality=q, ensemble=False)).pixels
                   for q in (None, 30))
    assert torch.equal(read, named)
    other = restore_image(image, RestoreOptions(task="jpeg", quality=50, ensemble=False)).pixels
    assert not torch.equal(read, other)
    write_image(tmp_path / "a.png", astronaut)
    with pytest.raises(PixelsmithError, match="not a JPEG file.*quality=Q"):
        restore_image(read_image(tmp_path / "a.png"), RestoreOptions(task="jpeg"))


def test_restore_files_checks_first_and_splits_a_folder_into_shards(tmp_path):
    for i in range(5):
        write_image(tmp_path / "in" / f"{i}.png", torch.rand(1, 16, 16, generator=gen(i)))
    with pytest.raises(UsageError, match="method=magic"):
        restore_files(tmp_path / "in", tmp_path / "out", RestoreOptions(method="magic"))
    assert not (tmp_path / "out").exists()  # refused before any file
    opts = RestoreOptions(method="nlm", sigma=10)
    shards = [restore_files(tmp_path / "in", tmp_path / "out", opts, shard=(rank, 2)) for rank in (0, 1)]
    assert [len(r.written) for r in shards] == [3, 2] and not any(r.errors or r.skipped for r in shards)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i}.png" for i in range(5)]
    again = restore_files(tmp_path / "in", tmp_path / "out", opts)
    assert not again.written and len(again.skipped) == 5


TINY = [(1, 1), (2, 1), (3, 2), (1, 40), (31, 5)]


@pytest.mark.parametrize("h,w", TINY)
# The noise level is estimated and the JPEG quality high: told of noise or artifacts a clean flat image lacks,
# the denoiser and the JPEG model shift it at any size (a limit of the models, not of small images).
@pytest.mark.parametrize("task,extra", [("denoise", {}), ("sr", {"scale": 4}), ("jpeg", {"quality": 90}),
                                        ("deblur", {"kernel": "gaussian:0.3", "sigma": 1})])
def test_tiny_flat_images_come_back_flat_at_their_value(task, extra, h, w):
    """One rule for every task: an image smaller than MIN_SIDE is edge-replicated, restored, cropped back."""
    value = torch.tensor([200, 100, 50]).view(3, 1, 1) / 255
    image = ImageData(value.expand(3, h, w).contiguous())
    if task == "deblur" and min(h, w) < 3:  # smaller than its 3x3 kernel
        with pytest.raises(PixelsmithError, match="deblurring needs an image at least as large as its kernel"):
            restore_image(image, RestoreOptions(task=task, **extra))
        return
    # fp32: bf16 (used where the CPU has it natively) moves flat levels by about a level
    out = restore_image(image, RestoreOptions(task=task, ensemble=False, bf16=False, **extra)).pixels
    s = extra.get("scale", 1)
    assert out.shape == (3, h * s, w * s)
    # plug-and-play with fewer than 8 iterations or with the colour model as prior (deblur's fast path has
    # both) moves a flat image's first rows and columns by up to about 2.4 levels
    assert (out - value).abs().max() * 255 < (2.5 if task == "deblur" else 1.5), (out - value).abs().max() * 255


def test_an_image_smaller_than_the_kernel_is_refused():
    for h, w in [(2, 3), (1, 1), (10, 40)]:
        with pytest.raises(PixelsmithError, match=rf"the image is {w}x{h} pixels but kernel=gaussian:1.6 is 11x11"):
            restore_image(ImageData(torch.rand(1, h, w)), RestoreOptions(task="deblur", kernel="gaussian:1.6"))


def test_a_flat_image_upscaled_keeps_its_level():
    """Plug-and-play super-resolution ends with a data step: the denoiser alone brightens clean flat areas."""
    out = restore_image(ImageData(torch.full((1, 40, 40), 200 / 255)), RestoreOptions(task="sr", scale=4, bf16=False)).pixels
    assert (out * 255 - 200).abs().max() < 0.5  # fp32: bf16 moves the level by about one


def test_every_pixel_missing_is_refused(tmp_path):
    image = ImageData(torch.rand(3, 16, 16, generator=gen(0)), path="x.png")
    with pytest.raises(PixelsmithError, match="every pixel is missing .its mask is white everywhere"):
        restore_image(image, RestoreOptions(task="inpaint"), mask=torch.ones(1, 16, 16))
    transparent = ImageData(image.pixels, alpha=torch.zeros(1, 16, 16), path="x.png")
    with pytest.raises(PixelsmithError, match="every pixel is missing .it is transparent everywhere"):
        restore_image(transparent, RestoreOptions(task="inpaint"))


def test_no_pixel_missing_returns_the_input_without_loading_a_model(monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr("pixelsmith.pipelines.inpaint.load_restorer", no_model)
    image = ImageData(torch.rand(3, 16, 16, generator=gen(0)))
    out = restore_image(image, RestoreOptions(task="inpaint"), mask=torch.zeros(1, 16, 16))
    assert torch.equal(out.pixels, image.pixels)


def test_the_self_ensemble_is_the_default_up_to_a_size(monkeypatch):
    """ensemble=None averages the views on images up to ENSEMBLE_MAX_PIXELS and runs one pass above it."""
    import pixelsmith.pipelines.restore as R

    noisy = ImageData(torch.rand(1, 64, 80, generator=gen(5)))
    opts = {b: restore_image(noisy, RestoreOptions(task="denoise", sigma=25, ensemble=b)).pixels
            for b in (None, True, False)}
    assert torch.equal(opts[None], opts[True]) and not torch.equal(opts[True], opts[False])
    monkeypatch.setattr(R, "ENSEMBLE_MAX_PIXELS", 64 * 80 - 1)
    assert torch.equal(restore_image(noisy, RestoreOptions(task="denoise", sigma=25)).pixels, opts[False])
