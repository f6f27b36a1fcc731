"""Super-resolution: the bundled network (``mdsr-sr``: one pass at the low resolution, a sub-pixel upsampler per
scale, on the luma channel), plug-and-play with the gray denoiser as the prior (``pnp``), and the classical
resamplers (bicubic, Lanczos)."""

from __future__ import annotations

import torch

from pixelsmith.colorspace import rgb_to_ycbcr, ycbcr_to_rgb
from pixelsmith.errors import UsageError
from pixelsmith.nn import channels_last
from pixelsmith.pipelines.methods import UPSCALERS, check_iterations, check_method, check_scale, load_restorer
from pixelsmith.pipelines.prior import plug_and_play
from pixelsmith.pipelines.tiling import FLIPS, ONE, model_channels, run_tiled, view_average
from pixelsmith.precision import autocast
from pixelsmith.progress import Progress

SR_ITERATIONS = 24  # plug-and-play iterations, as DPIR uses for super-resolution (what fewer cost: docs/tasks.md)
# Low-resolution tiles of the network: each tile leaves out SR_MARGIN pixels at a shared edge, more than the
# network's receptive-field radius (19 convolutions plus the bicubic skip), so tiled equals untiled up to bf16
# rounding (tests/test_sr.py), and blends over the rest of the overlap.
SR_TILE, SR_OVERLAP, SR_MARGIN = 400, 48, 20


def _network(net, x: torch.Tensor, scale: int, bf16: bool, views: tuple[int, ...],
             progress: Progress) -> torch.Tensor:
    """(C,H,W) with the network's channel count, upscaled in tiles and averaged over the dihedral ``views``."""
    def once(t: torch.Tensor) -> torch.Tensor:
        with autocast(bf16):
            return net(channels_last(t), scale).float()

    return run_tiled(view_average(once, views), x[None], SR_TILE, SR_OVERLAP, scale=scale, out_channels=x.shape[0],
                     margin=SR_MARGIN, progress=progress)[0].clamp(0, 1)


def super_resolve(x: torch.Tensor, scale: int, *, method: str = "model", model: str | None = None,
                  bf16: bool = True, ensemble: bool = True, iterations: int | None = None,
                  progress: Progress = None) -> torch.Tensor:
    """Upscale (C,H,W) ``x`` by ``scale`` (2, 3 or 4), undoing bicubic downscaling. ``model`` is the network
    (default ``mdsr-sr``), averaged over 4 flips unless ``ensemble=False``; ``pnp`` is plug-and-play with the
    gray denoiser (``model`` then names the denoiser) for ``iterations`` (default 24). Both work on the luma of a
    colour image, whose chroma is upscaled bicubically, as SRCNN and its successors do."""
    check_method("sr", method)
    check_scale(scale)
    check_iterations(iterations)
    from pixelsmith.baselines import classical_upscale

    if method in UPSCALERS:
        return classical_upscale(method, x, scale)
    if method == "model":
        if iterations is not None:
            raise UsageError("iterations applies to method=pnp; the network upscales in one pass")
        net = load_restorer("sr", model)
        if scale not in net.scales:
            raise UsageError(f"model={model or 'mdsr-sr'} upscales by {', '.join(map(str, net.scales))}, "
                             f"not by scale={scale}")
        views = FLIPS if ensemble else ONE

        def upscale(channels: torch.Tensor) -> torch.Tensor:
            return _network(net, channels, scale, bf16, views, progress)
    else:
        net = load_restorer("denoise", model)

        def upscale(channels: torch.Tensor) -> torch.Tensor:
            return plug_and_play(channels, net, scale=scale, iterations=iterations or SR_ITERATIONS, bf16=bf16,
                                 progress=progress)
    if x.shape[0] == 3 and model_channels(net) == 1:
        ycc = rgb_to_ycbcr(x)
        chroma = classical_upscale("bicubic", ycc[1:], scale)
        return ycbcr_to_rgb(torch.cat([upscale(ycc[:1]), chroma])).clamp(0, 1)
    if x.shape[0] == 1 and model_channels(net) == 3:
        return upscale(x.expand(3, -1, -1)).mean(0, keepdim=True)
    return upscale(x)
