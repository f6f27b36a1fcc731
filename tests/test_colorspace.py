"""Colour conversions (pixelsmith.colorspace): YCbCr as JPEG writes it, the in-gamut inverse that keeps the
luma, MATLAB's luma for PSNR, and the opponent channels in which RGB noise stays white at known levels."""

import pytest
import torch
from conftest import gen

from pixelsmith.colorspace import (
    matlab_luma,
    opponent_noise,
    opponent_to_rgb,
    rgb_to_opponent,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
    ycbcr_to_rgb_in_gamut,
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(3, 8, 9), (2, 3, 8, 9)])
def test_ycbcr_roundtrip_keeps_shape_and_dtype(shape, dtype):
    x = torch.rand(shape, generator=gen(), dtype=dtype)
    ycc = rgb_to_ycbcr(x)
    assert ycc.shape == x.shape and ycc.dtype == dtype
    assert torch.allclose(ycbcr_to_rgb(ycc), x, atol=1e-5)


def test_ycbcr_known_values():
    gray = torch.full((3, 2, 2), 0.3)
    assert torch.allclose(rgb_to_ycbcr(gray), torch.tensor([0.3, 0.5, 0.5]).view(3, 1, 1).expand(3, 2, 2), atol=1e-6)
    red = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)
    assert torch.allclose(rgb_to_ycbcr(red).flatten(), torch.tensor([0.299, 0.5 - 0.168736, 1.0]), atol=1e-6)


def test_ycbcr_is_differentiable():
    x = torch.rand(3, 4, 4, generator=gen(1), requires_grad=True)
    rgb_to_ycbcr(x)[0].sum().backward()
    assert torch.allclose(x.grad[:, 0, 0], torch.tensor([0.299, 0.587, 0.114]))


def test_in_gamut_conversion_keeps_the_luma():
    """Colours outside the RGB cube come back inside with their luma unchanged (a per-channel clip shifts it);
    colours inside are converted exactly."""
    ycc = torch.rand(3, 32, 32, generator=gen(7)) * torch.tensor([0.8, 1.4, 1.4]).view(3, 1, 1) \
        + torch.tensor([0.1, -0.2, -0.2]).view(3, 1, 1)
    rgb = ycbcr_to_rgb_in_gamut(ycc)
    outside = ((ycbcr_to_rgb(ycc) < 0) | (ycbcr_to_rgb(ycc) > 1)).any(0)
    assert outside.float().mean() > 0.3 and rgb.min() >= 0 and rgb.max() <= 1
    assert torch.allclose(rgb_to_ycbcr(rgb)[0], ycc[0], atol=1e-5)
    assert (rgb_to_ycbcr(ycbcr_to_rgb(ycc).clamp(0, 1))[0] - ycc[0]).abs().max() > 0.05
    assert torch.allclose(rgb[:, ~outside], ycbcr_to_rgb(ycc)[:, ~outside], atol=1e-6)
    batch = ycbcr_to_rgb_in_gamut(ycc[None].expand(2, -1, -1, -1))
    assert batch.shape == (2, 3, 32, 32) and torch.allclose(batch[1], rgb)


def test_matlab_luma_range():
    white, black = torch.ones(3, 2, 2), torch.zeros(3, 2, 2)
    assert torch.allclose(matlab_luma(white), torch.full((1, 2, 2), 235 / 255), atol=1e-4)
    assert torch.allclose(matlab_luma(black), torch.full((1, 2, 2), 16 / 255))
    assert matlab_luma(torch.rand(4, 3, 5, 6)).shape == (4, 1, 5, 6)
    one = torch.rand(1, 4, 4)
    assert torch.equal(matlab_luma(one), one)


def test_opponent_channels_keep_noise_white_at_the_stated_levels():
    """Colour denoising with the gray model relies on this: the opponent transform inverts exactly, and RGB noise
    of stds (10, 20, 30) has, in each opponent channel, the std that opponent_noise states."""
    x = torch.rand(3, 64, 64, generator=gen(0))
    opponent = rgb_to_opponent(x)
    assert opponent.shape == x.shape and opponent.min() >= 0 and opponent.max() <= 1  # offset into [0, 1]
    assert torch.allclose(opponent_to_rgb(opponent), x, atol=1e-6)
    sigma = torch.tensor([10.0, 20.0, 30.0]).view(3, 1, 1)
    noise = torch.randn(3, 256, 256, generator=gen(1)) * sigma
    measured = (rgb_to_opponent(noise) - rgb_to_opponent(torch.zeros_like(noise))).flatten(1).std(1)
    stated = opponent_noise(sigma.expand(3, 4, 4))[:, 0, 0]
    assert torch.allclose(measured, stated, rtol=0.03), (measured, stated)
    assert stated[0] < 20  # luminance averages the three channels, so its noise is below the mean level
    equal = torch.randn(3, 256, 256, generator=gen(2)) * 20  # the rows are orthogonal: equal RGB noise stays
    channels = (rgb_to_opponent(equal) - rgb_to_opponent(torch.zeros_like(equal))).flatten(1)  # uncorrelated
    assert (torch.corrcoef(channels) - torch.eye(3)).abs().max() < 0.02
