"""Deblurring with a known kernel: plug-and-play with the denoiser as the prior and a boundary-free data term,
and the classical baselines (Wiener, Richardson-Lucy)."""

from __future__ import annotations

import torch

from pixelsmith.baselines import estimate_sigmas
from pixelsmith.errors import PixelsmithError
from pixelsmith.pipelines.methods import COLOUR_DENOISER, check_iterations, check_method, check_sigma, load_restorer
from pixelsmith.pipelines.denoise import denoise_luminance
from pixelsmith.pipelines.prior import model_prior, plug_and_play
from pixelsmith.progress import Progress

# The data-term weight of deblurring's half-quadratic splitting (super-resolution keeps DPIR's); how it was
# chosen: docs/tasks.md.
DEBLUR_LAM = 0.18
DEBLUR_ITERATIONS = 8
# Without the ensemble (--fast, and the default on large outputs): fewer iterations, and a colour image takes
# the colour model as the prior of all but the last (one pass instead of the gray model's three) and the gray
# model on its luminance only in the last (docs/tasks.md).
FAST_ITERATIONS = 4
TILE = 1536  # input pixels per plug-and-play tile (each adds a margin of twice the kernel on every side)


def check_kernel_fits(kernel: torch.Tensor, size: tuple[int, int], spec: str | None = None) -> None:
    """A one-line error when the image is smaller than the blur kernel: nothing of the image is then free of
    the unknown surroundings that the kernel mixes in."""
    (kh, kw), (h, w) = kernel.shape[-2:], size
    if h < kh or w < kw:
        name = f"kernel={spec}" if spec else "the kernel"
        raise PixelsmithError(f"the image is {w}x{h} pixels but {name} is {kw}x{kh}; deblurring needs an image at "
                              f"least as large as its kernel")


def deblur(x: torch.Tensor, kernel: torch.Tensor, *, sigma: float | None = None, method: str = "model",
           model: str | None = None, bf16: bool = True, iterations: int | None = None, ensemble: bool = True,
           progress: Progress = None) -> torch.Tensor:
    """Remove a known blur ``kernel`` from (C,H,W) ``x``; ``sigma`` is the noise std (0-255), estimated when None.
    ``ensemble=False`` is the fast path (FAST_ITERATIONS; the colour model on colour images but in the last)."""
    check_method("deblur", method)
    check_sigma(sigma)
    check_iterations(iterations)
    iterations = iterations or (DEBLUR_ITERATIONS if ensemble else FAST_ITERATIONS)
    check_kernel_fits(kernel, x.shape[-2:])
    if method != "model":
        from pixelsmith.baselines import classical_deblur

        return classical_deblur(method, x, kernel, sigma)
    noise = float(sum(estimate_sigmas(x)) / x.shape[0]) if sigma is None else sigma
    net = load_restorer("deblur", model)
    cheap = load_restorer("denoise", COLOUR_DENOISER) if not ensemble and model is None and x.shape[0] == 3 else None
    final = model_prior(net, denoise_luminance, bf16) if cheap else None
    return plug_and_play(x, cheap or net, kernel=kernel, noise=noise, iterations=iterations, bf16=bf16, tile=TILE,
                         lam=DEBLUR_LAM, final=final, progress=progress)
