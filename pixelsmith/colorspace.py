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


def ycbcr_to_rgb_in_gamut(x: torch.Tensor) -> torch.Tensor:
    """:func:`ycbcr_to_rgb` into [0, 1] without changing the luma: a colour outside the RGB cube moves toward the
    gray of its own luma until it is inside (clipping each channel instead would shift the luma)."""
    luma = x[..., :1, :, :].clamp(0, 1)
    chroma = ycbcr_to_rgb(x) - x[..., :1, :, :]  # RGB minus luma; its luma-weighted sum is 0
    inf = torch.tensor(float("inf"), dtype=x.dtype)
    room = torch.where(chroma > 0, (1 - luma) / chroma.clamp(min=1e-12),
                       torch.where(chroma < 0, -luma / chroma.clamp(max=-1e-12), inf))
    return (luma + room.amin(-3, keepdim=True).clamp(0, 1) * chroma).clamp(0, 1)


def matlab_luma(x: torch.Tensor) -> torch.Tensor:
    """Y of MATLAB's ``rgb2ycbcr`` (16-235 range), scaled to [0, 1]: (…, 3, H, W) -> (…, 1, H, W).
    A one-channel input is returned unchanged."""
    if x.shape[-3] == 1:
        return x
    w = torch.tensor([65.481, 128.553, 24.966], dtype=x.dtype).view(3, 1, 1)
    return ((x * w).sum(-3, keepdim=True) + 16.0) / 255.0


# An orthogonal-rows opponent transform (luminance, red-blue, green-magenta), offset into [0, 1]: white
# Gaussian noise stays white in it, with each channel's level given by its row norm.
_RGB_TO_OPPONENT = torch.tensor([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.0, -0.5], [0.25, -0.5, 0.25]])
_OPPONENT_OFFSET = torch.tensor([0.0, 0.5, 0.5])


def rgb_to_opponent(x: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB in [0, 1] to opponent channels in [0, 1] (as CBM3D decorrelates colour)."""
    return torch.einsum("ij,jhw->ihw", _RGB_TO_OPPONENT.to(x.dtype), x) + _OPPONENT_OFFSET.to(x.dtype).view(3, 1, 1)


def opponent_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_opponent`."""
    inverse = torch.linalg.inv(_RGB_TO_OPPONENT.double()).to(x.dtype)
    return torch.einsum("ij,jhw->ihw", inverse, x - _OPPONENT_OFFSET.to(x.dtype).view(3, 1, 1))


def opponent_noise(sigma: torch.Tensor) -> torch.Tensor:
    """Noise std maps (3, H, W) of the opponent channels, given independent RGB noise of std maps ``sigma``."""
    return torch.einsum("ij,jhw->ihw", _RGB_TO_OPPONENT.to(sigma.dtype) ** 2, sigma**2).sqrt()
