"""Plug-and-play restoration: the Fourier forward model equals the spatial degradations, the data step solves
its least-squares problem, and half-quadratic splitting with a good denoiser restores blurred images."""

import pytest
import torch
import torch.fft as fft
from conftest import gen

from pixelsmith import PixelsmithError
from pixelsmith import degradations as D
from pixelsmith.metrics import psnr
from pixelsmith.pnp import bicubic_otf, data_step, hqs, kernel_to_otf, masked_adjoint, masked_data_step


def apply_otf(otf, x):
    return fft.ifft2(otf * fft.fft2(x.double())).real


def asymmetric_kernel():
    k = torch.rand(5, 7, generator=gen(9))
    return k / k.sum()


@pytest.mark.parametrize("kernel", [D.gaussian_kernel(1.6), D.motion_kernel(9, 30), asymmetric_kernel()],
                         ids=["gaussian", "motion", "asymmetric"])
def test_kernel_otf_equals_circular_blur(kernel):
    x = torch.rand(2, 1, 40, 52, generator=gen())
    otf = kernel_to_otf(kernel, (40, 52))
    assert (apply_otf(otf, x) - D.blur(x, kernel, mode="circular")).abs().max() < 1e-5


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_otf_equals_bicubic_downscale_away_from_borders(scale):
    h, w = 24 * scale, 20 * scale
    x = torch.rand(1, 1, h, w, generator=gen(scale))
    ours = apply_otf(bicubic_otf(scale, (h, w)), x)[..., ::scale, ::scale]
    theirs = D.bicubic_downscale(x, scale)
    assert ours.shape == theirs.shape
    assert (ours - theirs)[..., 4:-4, 4:-4].abs().max() < 1e-5


def forward(x, otf, s):
    return apply_otf(otf, x)[..., ::s, ::s]


def adjoint(y, otf, s):
    up = torch.zeros(*y.shape[:-2], y.shape[-2] * s, y.shape[-1] * s, dtype=torch.float64)
    up[..., ::s, ::s] = y
    return apply_otf(otf.conj(), up)


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_data_step_solves_the_normal_equations(scale):
    """argmin ||y - A x||^2 + alpha ||x - z||^2 satisfies A^T (A x - y) + alpha (x - z) = 0."""
    h, w = 12 * scale, 15 * scale
    otf = kernel_to_otf(D.gaussian_kernel(1.2), (h, w)) if scale == 1 else bicubic_otf(scale, (h, w))
    y = torch.rand(1, 1, h // scale, w // scale, generator=gen(1)).double()
    z = torch.rand(1, 1, h, w, generator=gen(2))
    alpha = 0.05
    x = data_step(z, otf, otf.conj() * fft.fft2(adjoint(y, torch.ones_like(otf), scale)), alpha, scale).double()
    gradient = adjoint(forward(x, otf, scale) - y, otf, scale) + alpha * (x - z.double())
    assert gradient.abs().max() < 1e-4 * (adjoint(y, otf, scale).abs().max())
    assert (x - z).abs().mean() > 0.01  # it moved towards the data


def test_masked_data_step_fits_only_the_known_pixels():
    h, w = 32, 40
    otf = kernel_to_otf(D.gaussian_kernel(1.0), (h, w))
    y = torch.rand(1, 1, h, w, generator=gen(1)).double()
    z = torch.rand(1, 1, h, w, generator=gen(2))
    everywhere = torch.ones(1, 1, h, w, dtype=torch.float64)
    alpha = 0.2
    closed_form = data_step(z, otf, otf.conj() * fft.fft2(y), alpha, 1)
    half = otf[..., : w // 2 + 1].to(torch.complex64)  # masked_data_step works in float32 on real FFTs
    rhs = masked_adjoint(y.float(), half, everywhere.float())
    # without a mask the preconditioner is the exact inverse: one step solves it
    assert (masked_data_step(z, half, rhs, everywhere.float(), alpha, iterations=1) - closed_form).abs().max() < 1e-4
    known = torch.zeros(1, 1, h, w, dtype=torch.float64)
    known[..., 8:24, 10:30] = 1
    rhs = masked_adjoint(y.float(), half, known.float())

    def gradient(x):
        x = x.double()
        return (apply_otf(otf.conj(), known * (apply_otf(otf, x) - y)) + alpha * (x - z.double())).abs().max()

    exact = masked_data_step(z, half, rhs, known.float(), alpha, tolerance=0, iterations=40)
    assert gradient(exact) < 1e-4
    # the default stops once a step moves the image by less than half a gray level: it is that close
    stopped = masked_data_step(z, half, rhs, known.float(), alpha)
    assert gradient(stopped) < 0.05 * gradient(z)
    assert (stopped - exact).pow(2).mean().sqrt() < 0.5 / 255


def test_hqs_needs_a_kernel_or_a_scale():
    with pytest.raises(PixelsmithError, match="needs a blur kernel"):
        hqs(torch.rand(1, 1, 16, 16), lambda x, s: x)


def test_hqs_reports_each_iteration_with_falling_denoiser_levels():
    levels, events = [], []

    def identity(x, sigma):
        levels.append(sigma)
        return x

    out = hqs(torch.rand(1, 1, 16, 20, generator=gen(3)), identity, scale=2, iterations=5, progress=events.append)
    assert out.shape == (1, 1, 32, 40)
    assert [(e.stage, e.done, e.total) for e in events] == [("iterations", i, 5) for i in range(1, 6)]
    assert len(levels) == 5 and levels == sorted(levels, reverse=True) and levels[0] > levels[-1]


def nlm_denoiser(x, sigma):
    from pixelsmith.baselines import classical_denoise

    return torch.stack([classical_denoise("nlm", image, sigma) for image in x])


@pytest.mark.parametrize("mode", ["circular", "reflect"])
def test_hqs_with_a_classical_denoiser_deblurs(camera, mode):
    """Independent of any trained weights: non-local means as the prior (measured: +4 dB over the blurred
    input and +2.3 dB over Wiener with a reflective boundary, which hqs does not assume)."""
    from pixelsmith.baselines import classical_deblur

    clean = camera[:, 64:192, 192:320]
    kernel = D.gaussian_kernel(1.6)
    blurred = D.add_gaussian_noise(D.blur(clean, kernel, mode=mode), 2, gen(), clip=True, quantize=True)
    restored = hqs(blurred[None], nlm_denoiser, kernel=kernel, noise=2, iterations=8,
                   pad=0 if mode == "circular" else None)[0]
    assert restored.shape == clean.shape and restored.min() >= 0 and restored.max() <= 1
    assert psnr(restored, clean) > psnr(blurred, clean) + 2.5
    assert psnr(restored, clean) > psnr(classical_deblur("wiener", blurred, kernel, 2), clean) + 1


def test_hqs_super_resolution_with_a_classical_denoiser(camera):
    clean = camera[:, 64:192, 192:320]
    small = D.bicubic_downscale(clean, 2)
    restored = hqs(small[None], nlm_denoiser, scale=2, iterations=8)[0]
    bicubic = D.bicubic_upscale(small, 2)
    assert restored.shape == clean.shape
    assert psnr(restored, clean, border=4) > psnr(bicubic, clean, border=4) + 0.5
    consistent = D.bicubic_downscale(restored, 2)  # the data step keeps the result true to the observation
    assert psnr(consistent, small, border=4) > psnr(D.bicubic_downscale(bicubic, 2), small, border=4)
