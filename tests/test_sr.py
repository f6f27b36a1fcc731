"""Super-resolution (pipelines.sr): plug-and-play with the gray denoiser beats bicubic on gray images and on
the luma of colour ones, at every scale it accepts; the resamplers; the parameters it refuses."""

import pytest
import torch

from pixelsmith import UsageError
from pixelsmith import degradations as D
from pixelsmith.colorspace import rgb_to_ycbcr
from pixelsmith.metrics import psnr
from pixelsmith.pipelines.sr import super_resolve


def test_super_resolution_beats_bicubic(camera):
    clean = camera[:, 64:192, 192:320]
    small = D.finish(D.bicubic_downscale(clean, 2))
    ours = super_resolve(small, 2)
    assert ours.shape == (1, 128, 128) and ours.dtype == torch.float32 and ours.min() >= 0 and ours.max() <= 1
    assert psnr(ours, clean, border=2) > psnr(super_resolve(small, 2, method="bicubic"), clean, border=2) + 1


def test_colour_super_resolution_sharpens_the_luma(astronaut):
    small = D.finish(D.bicubic_downscale(astronaut, 2))
    ours = super_resolve(small, 2, iterations=8)
    bicubic = super_resolve(small, 2, method="bicubic")
    assert ours.shape == (3, 96, 128)
    luma, reference = rgb_to_ycbcr(ours)[:1], rgb_to_ycbcr(astronaut)[:1]
    assert psnr(luma, reference, border=2) > psnr(rgb_to_ycbcr(bicubic)[:1], reference, border=2) + 0.3
    assert super_resolve(small[:, :20, :30], 3, iterations=2).shape == (3, 60, 90)


@pytest.mark.parametrize("scale", [3, 4])
def test_every_scale_gives_its_size_and_beats_bicubic(camera, scale):
    clean = camera[:, 240:336, 240:336]
    small = D.finish(D.bicubic_downscale(clean, scale))
    ours = super_resolve(small, scale, iterations=8)
    assert ours.shape == (1, 96, 96)
    bicubic = super_resolve(small, scale, method="bicubic")
    assert psnr(ours, clean, border=scale) > psnr(bicubic, clean, border=scale) + 1  # measured +2.1, +2.4 dB


@pytest.mark.parametrize("method", ["bicubic", "lanczos"])
def test_resamplers_keep_a_flat_image_flat(method):
    flat = torch.full((3, 10, 14), 0.25)
    out = super_resolve(flat, 3, method=method)
    assert out.shape == (3, 30, 42) and torch.allclose(out, torch.full_like(out, 0.25), atol=1e-5)


@pytest.mark.parametrize("scale,options,words", [
    (2, {"method": "bm3d"}, "method=bm3d is not known for sr; accepted: model, bicubic, lanczos"),
    (5, {}, "scale=5 is not supported; accepted: 2, 3, 4"),
    (2, {"iterations": 0}, "iterations=0 must be at least 1"),
    (2, {"model": "resunet-inpaint"}, "model=resunet-inpaint is not a model for denoise"),
])
def test_bad_arguments_are_usage_errors(camera, scale, options, words):
    with pytest.raises(UsageError, match=words):
        super_resolve(camera[:, :32, :32], scale, **options)
