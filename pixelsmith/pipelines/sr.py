"""Super-resolution: plug-and-play with the gray denoiser as the prior on the luma channel, and the classical
resamplers (bicubic, Lanczos)."""

from __future__ import annotations

import torch

from pixelsmith.colorspace import rgb_to_ycbcr, ycbcr_to_rgb
from pixelsmith.pipelines.methods import check_iterations, check_method, check_scale, load_restorer
from pixelsmith.pipelines.prior import plug_and_play
from pixelsmith.pipelines.tiling import model_channels
from pixelsmith.progress import Progress

SR_ITERATIONS = 24  # as DPIR uses for super-resolution (what fewer cost: docs/tasks.md)


def super_resolve(x: torch.Tensor, scale: int, *, method: str = "model", model: str | None = None,
                  bf16: bool = True, iterations: int = SR_ITERATIONS, progress: Progress = None) -> torch.Tensor:
    """Upscale (C,H,W) ``x`` by ``scale`` (2, 3 or 4), undoing bicubic downscaling. The learned method is
    plug-and-play with the gray denoiser on the luma channel; chroma is upscaled bicubically, as SRCNN and its
    successors do, since the eye and the literature's PSNR look at luma."""
    check_method("sr", method)
    check_scale(scale)
    check_iterations(iterations)
    from pixelsmith.baselines import classical_upscale

    if method != "model":
        return classical_upscale(method, x, scale)
    net = load_restorer("sr", model)
    if x.shape[0] == 3 and model_channels(net) == 1:
        ycc = rgb_to_ycbcr(x)
        luma = plug_and_play(ycc[:1], net, scale=scale, iterations=iterations, bf16=bf16, progress=progress)
        chroma = classical_upscale("bicubic", ycc[1:], scale)
        return ycbcr_to_rgb(torch.cat([luma, chroma])).clamp(0, 1)
    return plug_and_play(x, net, scale=scale, iterations=iterations, bf16=bf16, progress=progress)
