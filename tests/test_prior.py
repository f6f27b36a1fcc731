"""Plug-and-play with the learned denoiser as the prior (pipelines.prior), shared by super-resolution and
deblurring: run in tiles, it matches the whole-image result within a few grey levels and keeps its quality."""

import pytest
from conftest import gen

from pixelsmith import degradations as D
from pixelsmith.metrics import psnr
from pixelsmith.pipelines.methods import load_restorer
from pixelsmith.pipelines.prior import plug_and_play


@pytest.fixture(scope="module")
def prior():
    return load_restorer("denoise")


def test_super_resolution_in_tiles_matches_the_whole_image(camera, prior):
    """A 64x96 input in tiles of 48 px (6 tiles) against one pass over the whole image (measured: largest
    difference 0.012, mean 3e-4; 31.77 dB either way)."""
    clean = camera[:, 100:228, 100:292]
    small = D.finish(D.bicubic_downscale(clean, 2))
    whole = plug_and_play(small, prior, scale=2, iterations=8, bf16=False)
    events = []
    tiled = plug_and_play(small, prior, scale=2, iterations=8, bf16=False, tile=48, progress=events.append)
    assert whole.shape == tiled.shape == (1, 128, 192)
    assert sum(e.stage == "tiles" for e in events) > 1
    assert (whole - tiled).abs().max() < 0.05 and (whole - tiled).abs().mean() < 2e-3
    assert abs(psnr(whole, clean, border=2) - psnr(tiled, clean, border=2)) < 0.1
    assert psnr(tiled, clean, border=2) > psnr(D.bicubic_upscale(small, 2), clean, border=2) + 1
    # the data step keeps the result true to the observation
    assert psnr(D.bicubic_downscale(tiled, 2), small, border=2) > psnr(
        D.bicubic_downscale(D.bicubic_upscale(small, 2), 2), small, border=2)


def test_deblurring_in_tiles_matches_the_whole_image(camera, prior):
    """Measured: largest difference 0.008, mean 5e-4; 30.3 dB either way against 25.3 blurred."""
    clean = camera[:, 100:228, 100:292]
    kernel = D.gaussian_kernel(1.6)
    blurred = D.add_gaussian_noise(D.blur(clean, kernel, "reflect"), 2, gen(0), clip=True, quantize=True)
    whole = plug_and_play(blurred, prior, kernel=kernel, noise=2, bf16=False, tile=512)
    tiled = plug_and_play(blurred, prior, kernel=kernel, noise=2, bf16=False, tile=96)
    assert whole.shape == tiled.shape == clean.shape
    assert (whole - tiled).abs().max() < 0.05 and (whole - tiled).abs().mean() < 2e-3
    assert psnr(tiled, clean) > psnr(blurred, clean) + 4
