"""The gated layer of the Gated PixelCNN (van den Oord et al. 2016), masked by shifting instead of by zeroed
kernel weights: the vertical stack sees the rows above, the horizontal stack the pixels to the left in the row,
so an output at (i, j) depends only on pixels before it in raster order, with no blind spot.

The first layer shifts its input (down by a row for the vertical stack, right by a pixel for the horizontal one);
after that every convolution is padded on the top (vertical) or the left (horizontal) only, so causality holds at
any dilation. The vertical stack reaches the horizontal one through a 1x1 convolution of its pre-activation."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def shift_down(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x, (0, 0, 1, 0))[..., :-1, :]


def shift_right(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x, (1, 0))[..., :-1]


def gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedPixelLayer(nn.Module):
    """One layer of both stacks. ``first``: the input is the image itself (shifted, no residual)."""

    def __init__(self, cin: int, channels: int, kernel: int = 3, dilation: int = 1, num_classes: int = 0,
                 first: bool = False) -> None:
        super().__init__()
        self.first, self.pad = first, dilation * (kernel // 2)
        self.vertical = nn.Conv2d(cin, 2 * channels, (kernel // 2 + 1, kernel), dilation=dilation)
        self.horizontal = nn.Conv2d(cin, 2 * channels, (1, kernel // 2 + 1), dilation=dilation)
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, channels, 1)
        self.embed = nn.Embedding(num_classes, 4 * channels) if num_classes else None

    def condition(self, labels: torch.Tensor | None) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        if self.embed is None or labels is None:
            return 0.0, 0.0
        v, h = self.embed(labels)[:, :, None, None].chunk(2, dim=1)
        return v, h

    def vertical_pre(self, v: torch.Tensor) -> torch.Tensor:
        """The vertical stack's pre-activation (N, 2C, H, W): row i from the rows above i only."""
        if self.first:
            v = shift_down(v)
        return self.vertical(F.pad(v, (self.pad, self.pad, self.pad, 0)))

    def vertical_out(self, v: torch.Tensor, pre: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        out = gate(pre + self.condition(labels)[0])
        return out if self.first else v + out

    def horizontal_out(self, h: torch.Tensor, v_pre: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The horizontal stack's output from its input ``h`` and the vertical pre-activation of the same rows."""
        x = shift_right(h) if self.first else h
        pre = self.horizontal(F.pad(x, (self.pad, 0, 0, 0))) + self.v_to_h(v_pre) + self.condition(labels)[1]
        out = self.h_out(gate(pre))
        return out if self.first else h + out
