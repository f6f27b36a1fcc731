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
        self.conv = nn.Conv2d(in_channels, 2 * out_channels, kernel_size, padding=padding, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.glu(self.conv(x), dim=1)  # features * sigmoid(gate) in one fused pass, the gate the second half


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
        return x + self.conv2(F.relu(self.conv1(x), inplace=True))


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017, as in Miyato and Koyama
    2018's generator); with ``num_classes=0`` it is a plain BatchNorm2d with learned scale and shift."""

    def __init__(self, features: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(features, affine=num_classes == 0)
        if num_classes:
            self.scale = nn.Embedding(num_classes, features)
            self.shift = nn.Embedding(num_classes, features)
            nn.init.ones_(self.scale.weight)
            nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bn(x)
        if not self.num_classes:
            return h
        return h * self.scale(labels)[:, :, None, None] + self.shift(labels)[:, :, None, None]


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal init for convolutions that were not initialised on purpose (all-zero weights are kept)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.weight.abs().sum() > 0:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def pull_push_fill(x: torch.Tensor, hole: torch.Tensor, smoothing: int = 8, levels: int = 12) -> torch.Tensor:
    """Fill the holes of ``x`` (``hole`` = 1 where missing) smoothly from the known pixels: pull-push
    interpolation (Gortler et al. 1996) with a few Jacobi sweeps of Laplace's equation at every level on the
    way back up, i.e. a multigrid approximation of harmonic inpainting. Values are averaged down a pyramid
    with their weights (summed, capped at 1); going up, each level starts from the coarser one upsampled,
    keeps what it knows and relaxes the rest towards the mean of its four neighbours. Known pixels weigh 1
    and are returned unchanged; hole pixels weigh 1e-12, so what ``x`` holds there only counts where a
    region has no known pixel at all (a tile inside a large hole keeps a fill made from the whole image).
    O(pixels), any size, no parameters. Computed in float32. The pyramid has a fixed number of ``levels``
    (a side of 4096 reaches 1 pixel; a level of 1 pixel stays 1 pixel), so an ONNX export traced at one size
    computes the same at every size."""
    with torch.autocast(x.device.type, enabled=False):
        hole = hole.float().expand_as(x[:, :1])
        weight = 1 - hole + 1e-12 * hole
        values, weights = [x.float()], [weight]
        for _ in range(levels):  # pull: weighted means, weights summed and capped at 1
            total = F.avg_pool2d(weights[-1], 2, ceil_mode=True) * 4
            values.append(F.avg_pool2d(values[-1] * weights[-1], 2, ceil_mode=True) * 4 / total.clamp_min(1e-30))
            weights.append(total.clamp(max=1))
        filled = values[-1]
        for value, weight in zip(reversed(values[:-1]), reversed(weights[:-1])):  # push, then relax
            h, w = value.shape[-2:]
            coarse = F.interpolate(filled, scale_factor=2, mode="bilinear", align_corners=False)[..., :h, :w]
            known, free = value * weight, (1 - weight) / 4  # a sweep in five passes over memory, not nine
            filled = known + coarse * (1 - weight)
            for _ in range(smoothing):
                p = F.pad(filled, (1, 1, 1, 1), mode="replicate")
                total = p[..., :-2, 1:-1] + p[..., 2:, 1:-1]
                total += p[..., 1:-1, :-2]
                total += p[..., 1:-1, 2:]
                filled = torch.addcmul(known, total, free)
    return filled.to(x.dtype)


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "reflect") -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad H and W at the bottom and right up to a multiple of ``multiple``, by reflection (``mode="reflect"``;
    edge repetition where the image is too small to reflect) or by edge repetition (``"replicate"``); returns the
    padded tensor and the original size."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = mode if h > ph and w > pw else "replicate"
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


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """(N,C,H,W) ``x`` with NHWC strides. ``x.contiguous(memory_format=torch.channels_last)`` keeps NCHW strides
    when C is 1 (both layouts count as contiguous then), and convolutions that follow run in NCHW with a
    reorder around each oneDNN call, several times slower on this kind of CPU."""
    if x.ndim != 4 or (x.stride(1) == 1 and x.is_contiguous(memory_format=torch.channels_last)):
        return x
    return torch.empty(x.shape, dtype=x.dtype, device=x.device, memory_format=torch.channels_last).copy_(x)
