"""Convolution blocks and initialisation used across model families."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class GatedConv2d(nn.Module):
    """A convolution whose output is multiplied by a learned sigmoid gate from a parallel convolution
    (gated convolution, Yu et al. 2019): the network learns per pixel and channel how much to trust its input."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 bias: bool = False) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.conv = nn.Conv2d(in_channels, 2 * out_channels, kernel_size, padding=padding, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).split(self.out_channels, dim=1)
        return features * torch.sigmoid(gate)


class ResBlock(nn.Module):
    """conv-ReLU-conv with an identity skip; bias-free so the output scales with the input (Mohan et al. 2020).
    ``gated=True`` makes the first convolution a gated one."""

    def __init__(self, channels: int, bias: bool = False, gated: bool = False) -> None:
        super().__init__()
        self.conv1 = (GatedConv2d if gated else nn.Conv2d)(channels, channels, 3, padding=1, bias=bias)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=bias)
        # A zero last conv makes each block start as the identity, so a deep stack trains from step one.
        nn.init.zeros_(self.conv2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal init for convolutions that were not initialised on purpose (all-zero weights are kept)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.weight.abs().sum() > 0:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad H and W up to a multiple of ``multiple``; returns the padded tensor and the original size."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def dihedral(x: torch.Tensor, k: int, inverse: bool = False) -> torch.Tensor:
    """The k-th (0..7) of the 8 flips/rotations of the square on the last two dims, or its inverse."""
    if inverse:
        x = torch.rot90(x, -(k % 4), dims=(-2, -1))
        return x.flip(-1) if k >= 4 else x
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))
