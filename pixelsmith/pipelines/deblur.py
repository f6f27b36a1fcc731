"""Deblurring with a known kernel: plug-and-play with the denoiser as the prior and a boundary-free data term,
and the classical baselines (Wiener, Richardson-Lucy)."""

from __future__ import annotations

import torch

from pixelsmith.baselines import estimate_sigmas
from pixelsmith.errors import PixelsmithError
from pixelsmith.pipelines.methods import check_iterations, check_method, check_sigma, load_restorer
from pixelsmith.pipelines.prior import plug_and_play
from pixelsmith.progress import Progress

# The data-term weight of deblurring's half-quadratic splitting (super-resolution keeps DPIR's); how it was
# chosen: docs/tasks.md.
DEBLUR_LAM = 0.18
DEBLUR_ITERATIONS = 8


def check_kernel_fits(kernel: torch.Tensor, size: tuple[int, int], spec: str | None = None) -> None:
    """A one-line error when the image is smaller than the blur kernel: nothing of the image is then free of
    the unknown surroundings that the kernel mixes in."""
    (kh, kw), (h, w) = kernel.shape[-2:], size
    if h < kh or w < kw:
        name = f"kernel={spec}" if spec else "the kernel"
        raise PixelsmithError(f"the image is {w}x{h} pixels but {name} is {kw}x{kh}; deblurring needs an image at "
                              f"least as large as its kernel")


def deblur(x: torch.Tensor, kernel: torch.Tensor, *, sigma: float | None = None, method: str = "model",
           model: str | None = None, bf16: bool = True, iterations: int = DEBLUR_ITERATIONS,
           progress: Progress = None) -> torch.Tensor:
    """Remove a known blur ``kernel`` from (C,H,W) ``x``; ``sigma`` is the noise std (0-255), estimated when None."""
    check_method("deblur", method)
    check_sigma(sigma)
    check_iterations(iterations)
    check_kernel_fits(kernel, x.shape[-2:])
    if method != "model":
        from pixelsmith.baselines import classical_deblur

        return classical_deblur(method, x, kernel, sigma)
    noise = float(sum(estimate_sigmas(x)) / x.shape[0]) if sigma is None else sigma
    net = load_restorer("deblur", model)
    return plug_and_play(x, net, kernel=kernel, noise=noise, iterations=iterations, bf16=bf16, tile=512,
                         lam=DEBLUR_LAM, progress=progress)
