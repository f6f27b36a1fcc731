"""Plug-and-play restoration with a learned denoiser as the prior (DPIR half-quadratic splitting), shared by
super-resolution and deblurring, run in overlapping tiles so memory stays bounded."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from pixelsmith.pipelines.denoise import denoise_with
from pixelsmith.pipelines.tiling import run_tiled
from pixelsmith.pnp import DPIR_LAM, Denoiser, hqs
from pixelsmith.progress import Progress


def model_prior(net: nn.Module, how: Callable = denoise_with, bf16: bool = True) -> Denoiser:
    """The prior of plug-and-play: ``how(net, image, sigma, bf16)`` (denoise_with, denoise_luminance) on each image."""
    return lambda t, sigma: torch.stack([how(net, image, sigma, bf16) for image in t])


def plug_and_play(x: torch.Tensor, net: nn.Module, scale: int = 1, kernel: torch.Tensor | None = None,
                  noise: float = 0.0, iterations: int = 8, bf16: bool = True, tile: int = 256,
                  lam: float = DPIR_LAM, final: Denoiser | None = None, progress: Progress = None) -> torch.Tensor:
    """DPIR half-quadratic splitting of (C,H,W) ``x`` with ``net`` as the denoising prior (``final``, when given,
    the last iteration's), in tiles of ``tile`` input pixels (see :func:`pixelsmith.pnp.hqs`); 'tiles' and
    'iterations' events report both loops."""
    margin = 16 if kernel is None else max(16, 2 * max(kernel.shape))
    finish = scale > 1  # super-resolution ends with a data step; deblurring does not (see pnp.hqs)
    prior = model_prior(net, denoise_with, bf16)
    return run_tiled(lambda t: hqs(t, prior, scale, kernel, noise, iterations, lam=lam, finish=finish, final=final,
                                   progress=progress),
                     x[None], tile=tile, overlap=min(2 * margin, tile // 2 - 1), scale=scale, progress=progress)[0]
