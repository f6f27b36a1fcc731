"""Super-resolution network: a multi-scale EDSR (MDSR, Lim et al. 2017) working at the low resolution, with one
sub-pixel upsampler (ESPCN, Shi et al. 2016) per scale and a bicubic skip, so it learns only the missing detail."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith import PixelsmithError
from pixelsmith.nn import ResBlock, init_weights
from pixelsmith.registry import register_model


class MultiScaleSR(nn.Module):
    """Upscales (N, C, h, w) by one of ``scales``: a shared head and body of bias-free residual blocks at the input
    resolution, then the scale's tail, a convolution to ``C * s * s`` channels folded up by PixelShuffle(s), added
    to the bicubic upscaling of the input. The tails start at zero, so an untrained model is bicubic."""

    def __init__(self, channels: int = 1, width: int = 64, blocks: int = 16, scales: tuple[int, ...] = (2, 3, 4)) -> None:
        super().__init__()
        if not scales or min(scales) < 2:
            raise PixelsmithError(f"scales={list(scales)}: give integer factors of at least 2")
        self.channels, self.scales = channels, tuple(scales)
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(width) for _ in range(blocks)])
        self.body_end = nn.Conv2d(width, width, 3, padding=1)
        self.tails = nn.ModuleDict({str(s): nn.Conv2d(width, channels * s * s, 3, padding=1) for s in self.scales})
        init_weights(self)
        for tail in self.tails.values():
            nn.init.zeros_(tail.weight)
            nn.init.zeros_(tail.bias)

    def forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        if scale not in self.scales:
            raise PixelsmithError(f"this model upscales by {', '.join(map(str, self.scales))}, not by {scale}")
        if x.shape[1] != self.channels:
            raise PixelsmithError(f"this model takes {self.channels}-channel images, got {x.shape[1]}")
        y = self.head(x)
        y = y + self.body_end(self.body(y))
        detail = F.pixel_shuffle(self.tails[str(scale)](y), scale)
        base = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
        return base + detail.to(base.dtype)


@register_model("mdsr", family="restore", example_args={"width": 8, "blocks": 1, "scales": [2, 3]})
def mdsr(channels: int = 1, width: int = 64, blocks: int = 16, scales: list[int] = (2, 3, 4)) -> MultiScaleSR:
    """Multi-scale super-resolution network (shared residual body at low resolution, a sub-pixel tail per scale,
    bicubic skip)."""
    return MultiScaleSR(channels=channels, width=width, blocks=blocks, scales=tuple(scales))
