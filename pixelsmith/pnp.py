"""Plug-and-play restoration (DPIR, Zhang et al. 2021): half-quadratic splitting that alternates a closed-form
data step for y = (x * k) downsampled by s, solved in the Fourier domain as in USRNet, with a denoising step by
a learned noise-level-map denoiser at a decreasing noise level. One denoiser serves deblurring and
super-resolution with any kernel, bicubic included."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.fft as fft
import torch.nn.functional as F

from pixelsmith.errors import PixelsmithError
from pixelsmith.nn import dihedral
from pixelsmith.progress import Progress, report

Denoiser = Callable[[torch.Tensor, float], torch.Tensor]  # (N,C,H,W) image, sigma on 0-255 -> denoised


def kernel_to_otf(kernel: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """The FFT of a centred odd-sized kernel placed at the origin of an array of ``shape`` (psf2otf)."""
    kh, kw = kernel.shape
    padded = torch.zeros(shape, dtype=torch.float64)
    padded[:kh, :kw] = kernel.double()
    padded = torch.roll(padded, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1))
    return fft.fft2(padded)


def bicubic_otf(scale: int, shape: tuple[int, int]) -> torch.Tensor:
    """The OTF B such that torch's antialiased bicubic downscaling by ``scale`` equals
    ``ifft2(B * fft2(x))[::scale, ::scale]`` away from the image border. Measured from the resizer itself by
    downscaling one impulse per sub-pixel offset, so it matches :func:`pixelsmith.degradations.bicubic_downscale`."""
    from pixelsmith.degradations import bicubic_downscale

    size = 16 * scale
    centre = 8 * scale
    array = torch.zeros(shape, dtype=torch.float64)
    for a in range(scale):
        for b in range(scale):
            impulse = torch.zeros(1, 1, size, size)
            impulse[..., centre + a, centre + b] = 1
            response = bicubic_downscale(impulse, scale)[0, 0].double()
            rows = (torch.arange(response.shape[0]) * scale - centre - a) % shape[0]
            cols = (torch.arange(response.shape[1]) * scale - centre - b) % shape[1]
            keep = response.abs() > 0
            ii, jj = torch.nonzero(keep, as_tuple=True)
            array[rows[ii], cols[jj]] = response[ii, jj]
    return fft.fft2(array)


def _splits(a: torch.Tensor, s: int) -> torch.Tensor:
    """(…, H, W) -> (…, H/s, W/s, s*s): the s x s aliases of each frequency."""
    b = torch.stack(torch.chunk(a, s, dim=-2), dim=-1)
    return torch.cat(torch.chunk(b, s, dim=-2), dim=-1)


def data_step(z: torch.Tensor, otf: torch.Tensor, fbfy: torch.Tensor, alpha: float, scale: int) -> torch.Tensor:
    """argmin_x ||y - (x * k)↓s||² + alpha ||x - z||², in closed form (USRNet, eq. 7)."""
    fr = fbfy + fft.fft2(alpha * z.double())
    x1 = otf * fr
    fbr = _splits(x1, scale).mean(-1)
    invw = _splits(otf.abs() ** 2, scale).mean(-1)
    invwbr = fbr / (invw + alpha)
    fcbinvwbr = otf.conj() * invwbr.repeat(*([1] * (invwbr.ndim - 2)), scale, scale)
    return fft.ifft2((fr - fcbinvwbr) / alpha).real.float()


def masked_data_step(z: torch.Tensor, otf: torch.Tensor, rhs: torch.Tensor, known: torch.Tensor, alpha: float,
                     tolerance: float = 0.5 / 255, iterations: int = 40) -> torch.Tensor:
    """argmin_x ||M(y - x * k)||² + alpha ||x - z||², where M keeps only the observed pixels and ``rhs`` is the
    spectrum of k^T M y (:func:`masked_adjoint`). Conjugate gradients, started from z and preconditioned by the
    circulant inverse (|k|² + alpha)^-1 (the solution without the mask), stop when a step moves the image by
    less than ``tolerance`` RMS (half a gray level; 5-20 steps, more at low noise, where plain CG needed 30 and
    more; docs/tasks.md). The iterates stay in the Fourier domain (real FFTs, float32; inner products by
    Parseval), so each step costs one FFT pair, for the mask. With the observation in the middle of a larger
    unknown canvas, no boundary condition is assumed at all (the image's true surroundings are solved for, not
    guessed), which removes the ringing a circular or reflective model leaves at the borders. ``otf`` is the
    half spectrum of ``fft.rfft2``."""
    shape = z.shape[-2:]
    inverse = 1 / (otf.real**2 + otf.imag**2 + alpha)
    # the half spectrum holds the other half's columns as conjugates: they count twice in an inner product
    weight = torch.full((otf.shape[-1],), 2.0)
    weight[0] = 1
    if shape[-1] % 2 == 0:
        weight[-1] = 1

    def dot(a, b):
        return (weight * (a.real * b.real + a.imag * b.imag)).sum((-2, -1), keepdim=True)

    def masked(v):  # the spectrum of k^T M (k * v)
        return otf.conj() * fft.rfft2(known * fft.irfft2(otf * v, s=shape))

    x = fft.rfft2(z)
    r = rhs - masked(x)
    q = inverse * r
    p = q
    rq = dot(r, q)
    pixels = shape[0] * shape[1]
    for i in range(iterations):
        ap = masked(p) + alpha * p
        step = rq / dot(p, ap).clamp_min(1e-30)
        x = x + step * p
        if i == iterations - 1 or (step**2 * dot(p, p) <= tolerance**2 * pixels**2).all():
            break
        r = r - step * ap
        q = inverse * r
        rq_new = dot(r, q)
        p = q + (rq_new / rq.clamp_min(1e-30)) * p
        rq = rq_new
    return fft.irfft2(x, s=shape)


def masked_adjoint(y_ext: torch.Tensor, otf: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The spectrum of k^T M y, the right-hand side of :func:`masked_data_step` that stays fixed across calls."""
    return otf.conj() * fft.rfft2(known * y_ext)


def fft_size(n: int) -> int:
    """The smallest m >= n whose only prime factors are 2, 3 and 5, a size FFTs are fast at."""
    m = n
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


DPIR_LAM = 0.23  # DPIR's weight of the data term against the prior


def hqs(y: torch.Tensor, denoiser: Denoiser, scale: int = 1, kernel: torch.Tensor | None = None,
        noise: float = 0.0, iterations: int = 8, sigma_start: float = 49.0, lam: float = DPIR_LAM,
        pad: int | None = None, finish: bool = False, final: Denoiser | None = None,
        progress: Progress = None) -> torch.Tensor:
    """Restore (N,C,h,w) ``y`` = (x * kernel)↓scale + noise (std ``noise`` on 0-255); ``kernel=None`` with
    scale > 1 means bicubic downscaling. For deblurring the image is solved on a canvas ``pad`` pixels larger
    on each side with only the observed pixels in the data term (no boundary assumption); for
    super-resolution the observation is reflect-padded so the circular Fourier model does not wrap one border
    onto the other. Each iteration runs the denoiser at the next noise
    level of a log-spaced schedule from ``sigma_start`` to max(noise, scale), in one of the 8 flips of the
    image (a free self-ensemble, as DPIR does). ``finish`` ends with one more data step at the last noise level,
    which pulls the result back to agree with the observation: the denoiser, given clean flat regions and a
    noise level above zero, brightens them a little. Super-resolution gains from it, deblurring of noisy
    images does not (benchmarks/tune_pnp_finish.py, docs/tasks.md)."""
    if kernel is None and scale == 1:
        raise PixelsmithError("hqs needs a blur kernel, or a scale > 1 for bicubic super-resolution")
    n, c, h, w = y.shape
    pad = pad if pad is not None else (2 * max(kernel.shape) if kernel is not None else 8)
    pad = min(pad, h - 1, w - 1)
    # a few more pixels at the bottom and right make the canvas a fast FFT size (factors 2, 3, 5 only):
    # 580 = 4 x 5 x 29 takes several times longer than 600
    eh, ew = fft_size(h + 2 * pad) - h - 2 * pad, fft_size(w + 2 * pad) - w - 2 * pad
    mode = "reflect" if pad + max(eh, ew) < min(h, w) else "replicate"
    yp = F.pad(y, (pad, pad + ew, pad, pad + eh), mode=mode)
    H, W = yp.shape[-2] * scale, yp.shape[-1] * scale
    if kernel is None:
        otf = bicubic_otf(scale, (H, W))
    else:
        otf = kernel_to_otf(kernel, (H, W))
    boundary_free = kernel is not None and scale == 1 and pad > 0
    if boundary_free:
        known = torch.zeros(1, 1, H, W)
        known[..., pad:pad + h, pad:pad + w] = 1
        y_ext = F.pad(y, (pad, pad + ew, pad, pad + eh)).float()
        half_otf = otf[..., : W // 2 + 1].to(torch.complex64)
        rhs = masked_adjoint(y_ext, half_otf, known)
    else:
        up = torch.zeros(n, c, H, W, dtype=torch.float64)
        up[..., ::scale, ::scale] = yp.double()
        fbfy = otf.conj() * fft.fft2(up)
    if scale > 1:
        x = F.interpolate(yp, scale_factor=scale, mode="bicubic", align_corners=False)
    else:
        x = yp.clone()
    sigma_end = max(noise, float(scale), 0.255)
    sigmas = np.logspace(math.log10(sigma_start), math.log10(sigma_end), iterations)
    noise_level = max(noise, 0.255) / 255

    def data(x: torch.Tensor, sigma: float) -> torch.Tensor:
        alpha = lam * noise_level**2 / (sigma / 255) ** 2
        if boundary_free:
            return masked_data_step(x.float(), half_otf, rhs, known, alpha)
        return data_step(x, otf, fbfy, alpha, scale)

    for i, sigma in enumerate(sigmas):
        x = data(x, sigma)
        k = i % 8
        prior = final if final is not None and i == iterations - 1 else denoiser
        x = dihedral(prior(dihedral(x, k), float(sigma)), k, inverse=True)
        report(progress, "iterations", i + 1, iterations)
    if finish:
        x = data(x, sigmas[-1])
    crop = pad * scale
    return x[..., crop:crop + h * scale, crop:crop + w * scale].clamp(0, 1)
