"""Quality metrics (pixelsmith.metrics): PSNR per image as the literature computes it, its module form, and SSIM."""

import math

import pytest
import torch
from conftest import gen

from pixelsmith.metrics import PSNR, psnr, ssim


def test_psnr_of_a_known_error():
    clean = torch.full((1, 8, 8), 0.5)
    assert psnr(clean + 0.1, clean).item() == pytest.approx(20.0)
    assert psnr(clean * 255 + 10, clean * 255, data_range=255).item() == pytest.approx(20 * math.log10(25.5))
    assert psnr(clean, clean).item() == pytest.approx(200.0)  # a floor, not inf
    assert psnr(clean, clean).dtype == torch.float64


def test_psnr_is_per_image_of_a_batch_and_border_is_cropped():
    clean = torch.zeros(3, 1, 10, 10)
    restored = clean + torch.tensor([0.1, 0.01, 0.001]).view(3, 1, 1, 1)
    assert torch.allclose(psnr(restored, clean), torch.tensor([20.0, 40.0, 60.0], dtype=torch.float64))
    framed = clean[0].clone()
    framed[:, :2], framed[:, -2:], framed[..., :2], framed[..., -2:] = 1, 1, 1, 1
    assert psnr(framed, clean[0], border=2).item() == pytest.approx(200.0)
    assert psnr(framed, clean[0]).item() < 5


def test_the_module_averages_the_batch():
    x, y = torch.rand(4, 3, 8, 8, generator=gen(0)), torch.rand(4, 3, 8, 8, generator=gen(1))
    assert torch.allclose(PSNR(border=1)(x, y), psnr(x, y, border=1).mean())


def test_psnr_refuses_different_shapes():
    with pytest.raises(ValueError, match="equal shapes"):
        psnr(torch.zeros(1, 4, 4), torch.zeros(1, 4, 5))


def test_ssim_is_one_for_equal_images_and_falls_with_noise():
    x = torch.rand(3, 32, 32, generator=gen(2))
    assert ssim(x, x) == pytest.approx(1.0)
    noisy = (x + 0.2 * torch.randn(3, 32, 32, generator=gen(3))).clamp(0, 1)
    assert ssim(noisy, x) < 0.9
