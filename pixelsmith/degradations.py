"""Forward models of restoration: what turns a clean image into the one a user has."""

from __future__ import annotations

import torch


def add_gaussian_noise(
    clean: torch.Tensor,
    sigma: float | torch.Tensor,
    generator: torch.Generator | None = None,
    clip: bool = False,
    quantize: bool = False,
) -> torch.Tensor:
    """Add white Gaussian noise of std ``sigma`` on the 0-255 scale (a number or a per-image tensor).

    With ``clip=False, quantize=False`` this is the literature's protocol (noise added in float);
    ``clip=True, quantize=True`` gives what a user's 8-bit file holds.
    """
    sigma = torch.as_tensor(sigma, dtype=clean.dtype, device=clean.device)
    if sigma.ndim == 1:  # one level per image of a batch
        sigma = sigma.view(-1, *([1] * (clean.ndim - 1)))
    noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype).to(clean.device)
    noisy = clean + noise * sigma / 255.0
    if clip:
        noisy = noisy.clamp(0, 1)
    if quantize:
        noisy = torch.round(noisy * 255) / 255
    return noisy
