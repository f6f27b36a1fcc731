"""Colour conversions: full-range BT.601 YCbCr (what JPEG uses) for processing luma and chroma apart, and
the MATLAB ``rgb2ycbcr`` luma that super-resolution and JPEG papers measure PSNR on."""

from __future__ import annotations

import torch

_RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_OFFSET = torch.tensor([0.0, 0.5, 0.5])


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """(…, 3, H, W) RGB in [0, 1] to full-range YCbCr in [0, 1] (JPEG's JFIF conversion)."""
    m = _RGB_TO_YCBCR.to(x.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, x) + _OFFSET.to(x.dtype).view(3, 1, 1)


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    m = torch.linalg.inv(_RGB_TO_YCBCR.double()).to(x.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, x - _OFFSET.to(x.dtype).view(3, 1, 1))


def matlab_luma(x: torch.Tensor) -> torch.Tensor:
    """Y of MATLAB's ``rgb2ycbcr`` (16-235 range), scaled to [0, 1]: (…, 3, H, W) -> (…, 1, H, W).
    A one-channel input is returned unchanged."""
    if x.shape[-3] == 1:
        return x
    w = torch.tensor([65.481, 128.553, 24.966], dtype=x.dtype).view(3, 1, 1)
    return ((x * w).sum(-3, keepdim=True) + 16.0) / 255.0
