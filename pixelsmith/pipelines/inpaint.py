"""Inpainting: the gated-convolution model that corrects a smooth fill of the holes, Deep Image Prior, RePaint with
a diffusion model, and the classical baselines (OpenCV Telea and Navier-Stokes, scikit-image biharmonic)."""

from __future__ import annotations

import torch

from pixelsmith.errors import UsageError
from pixelsmith.pipelines.methods import DIFFUSION_MODEL, check_method, load_restorer
from pixelsmith.pipelines.tiling import ALL, ONE, apply_model
from pixelsmith.progress import Progress


def inpaint(x: torch.Tensor, mask: torch.Tensor, *, method: str = "model", model: str | None = None,
            bf16: bool = True, ensemble: bool = True, iterations: int | None = None, progress: Progress = None
            ) -> torch.Tensor:
    """Fill the pixels of (C,H,W) ``x`` where the (1,H,W) ``mask`` is 1; the other pixels are kept. The
    learned model averages all 8 flips and rotations by default (``ensemble=False`` is 8x faster);
    ``method='diffusion'`` is RePaint with a diffusion model (``iterations``: its reverse steps) on images of the
    model's size."""
    check_method("inpaint", method)
    if mask.shape != (1, *x.shape[-2:]):
        raise UsageError(f"mask of shape {tuple(mask.shape)} does not match the image's {tuple(x.shape[-2:])}")
    mask = (mask > 0.5).float()
    if method == "model":
        from pixelsmith.nn import pull_push_fill

        net = load_restorer("inpaint", model)
        # A fill of the whole image first, so a tile that lies inside a large hole starts from it, not from black.
        filled = pull_push_fill((x * (1 - mask))[None], mask[None])[0]
        out = apply_model(net, filled, mask, bf16=bf16, tile=768, overlap=128, views=ALL if ensemble else ONE,
                          progress=progress)
    elif method == "diffusion":
        from pixelsmith.models.diffusion import check_diffusion
        from pixelsmith.pipelines.store import load_model
        from pixelsmith.repaint import repaint

        net = check_diffusion(load_model(model or DIFFUSION_MODEL), "method=diffusion")
        out = repaint(net, x[None], mask[None], **({"steps": iterations} if iterations else {}),
                      progress=progress)[0].to(x.device)
    elif method == "dip":
        from pixelsmith.dip import deep_image_prior

        out = deep_image_prior(x, mask=mask, iterations=iterations or 2000, progress=progress)
    else:
        from pixelsmith.baselines import classical_inpaint

        out = classical_inpaint(method, x, mask)
    return torch.where(mask > 0.5, out, x)
