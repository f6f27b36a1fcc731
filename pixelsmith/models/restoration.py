"""Restoration networks: a residual U-Net (DRUNet-like, on pixel-unshuffled input as in FFDNet) that optionally
takes a conditioning map (noise level, JPEG quality or hole mask) and optionally uses gated convolutions."""

from __future__ import annotations

import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith import PixelsmithError
from pixelsmith.nn import GatedConv2d, ResBlock, init_weights, pad_to_multiple, pull_push_fill
from pixelsmith.registry import register_model


class ResUNet(nn.Module):
    """Predicts the degradation of an image and subtracts it.

    The input (image channels, then ``cond_channels`` of conditioning map) is pixel-unshuffled by 2, so the
    widest level runs on a quarter of the pixels; levels of bias-free residual blocks follow, with strided-conv
    downsampling and transposed-conv upsampling joined by additive skips. ``gated=True`` uses gated
    convolutions (Yu et al. 2019) in the head and in every residual block, so the network can learn where
    the input is missing. ``inpaint=True`` treats the conditioning map as a hole mask (1 = missing): the holes
    are first filled smoothly from the known pixels (``pull_push_fill``; what the input holds in a hole only
    counts where an input has no known pixel at all), the network corrects that fill (so an untrained network
    is already a classical inpainter), and the known pixels of the input are kept unchanged.
    """

    def __init__(self, channels: int = 1, widths: tuple[int, ...] = (48, 96, 192), blocks: int | tuple[int, ...] = 2,
                 cond_channels: int = 0, gated: bool = False, inpaint: bool = False) -> None:
        super().__init__()
        if inpaint and cond_channels != 1:
            raise PixelsmithError("an inpainting ResUNet takes the hole mask as its one conditioning channel")
        blocks = (blocks,) * len(widths) if isinstance(blocks, int) else tuple(blocks)
        if len(blocks) != len(widths) or min(blocks) < 1:
            raise PixelsmithError(f"blocks={list(blocks)}: give one count of at least 1 for all levels, or one per "
                                  f"level ({len(widths)} widths)")
        self.channels, self.cond_channels, self.inpaint = channels, cond_channels, inpaint
        self.levels = len(widths)
        unshuffled = (channels + cond_channels) * 4
        self.head = (GatedConv2d if gated else nn.Conv2d)(unshuffled, widths[0], 3, padding=1, bias=False)

        def stage(level: int) -> nn.Sequential:
            return nn.Sequential(*[ResBlock(widths[level], gated=gated) for _ in range(blocks[level])])

        self.down_blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, width in enumerate(widths[:-1]):
            self.down_blocks.append(stage(i))
            self.downs.append(nn.Conv2d(width, widths[i + 1], 2, stride=2, bias=False))
        self.body = stage(len(widths) - 1)
        self.ups = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i in reversed(range(len(widths) - 1)):
            self.ups.append(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2, bias=False))
            self.up_blocks.append(stage(i))
        self.tail = nn.Conv2d(widths[0], channels * 4, 3, padding=1, bias=False)
        init_weights(self)
        nn.init.zeros_(self.tail.weight)  # starts as the identity: predicts no degradation

    @property
    def multiple(self) -> int:
        """Input sizes are padded to a multiple of this internally."""
        return 2 ** self.levels

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_channels:
            if cond is None or cond.shape[1] != self.cond_channels or cond.shape[-2:] != x.shape[-2:]:
                raise PixelsmithError(f"this model needs a {self.cond_channels}-channel conditioning map of the "
                                      f"image's size, got {None if cond is None else tuple(cond.shape)}")
            if self.inpaint:
                known = x * (1 - cond)
                x = pull_push_fill(x, cond)
            inputs = torch.cat([x, cond.to(x.dtype)], 1)
        else:
            inputs = x
        padded, (h, w) = pad_to_multiple(inputs, self.multiple)
        y = self.head(F.pixel_unshuffle(padded, 2))
        skips = []
        for blocks, down in zip(self.down_blocks, self.downs):
            y = blocks(y)
            skips.append(y)
            y = down(y)
        y = self.body(y)
        for up, blocks in zip(self.ups, self.up_blocks):
            y = blocks(up(y) + skips.pop())
        residual = F.pixel_shuffle(self.tail(y), 2)[..., :h, :w]
        out = x - residual.to(x.dtype)
        if self.inpaint:
            out = known + out * cond
        return out

    def source_name(self, name: str, source_names: set[str]) -> str | None:
        """The name of the parameter of another ResUNet that starts ``name``: a gated convolution
        (``head.conv.weight``) starts from the plain one (``head.weight``) of a model without gates; a residual
        block the source does not have (a model grown to more blocks per level) gives None: it keeps its own
        initialisation, the identity (its last convolution is zero), so the grown model computes the source's
        function."""
        if name in source_names:
            return name
        plain = name.removesuffix(".conv.weight") + ".weight"
        if name.endswith(".conv.weight") and plain in source_names:
            return plain
        block = re.match(r"(down_blocks\.\d+|up_blocks\.\d+|body)\.\d+\.", name)
        if block and not any(n.startswith(block.group(0)) for n in source_names):
            return None
        return name

    def adapt_parameter(self, name: str, value: torch.Tensor, source_config: dict) -> torch.Tensor:
        """Turn a parameter of another ResUNet (fewer image channels, other conditioning, no gates) into one
        of this model: gray head/tail weights are shared across colours; conditioning inputs of another
        meaning (a hole mask after a noise map) or new ones start at zero; a plain convolution W becomes a
        gated one with features 2W and a zero gate (sigmoid 0 = 1/2), the same function."""
        target = self.state_dict()[name]
        args = source_config.get("args", {})
        c_old, k_old = args.get("channels", 1), args.get("cond_channels", 0)
        c, k = self.channels, self.cond_channels
        if c_old not in (1, c) or value.ndim != 4:
            raise PixelsmithError(f"cannot adapt '{name}' of shape {tuple(value.shape)} to {tuple(target.shape)}")
        gated = name.endswith(".conv.weight") and target.shape[0] == 2 * value.shape[0]
        if gated:
            target = target[: value.shape[0]]
        repeat = c // c_old
        if name.startswith("head."):
            out = torch.zeros_like(target)
            out[:, :c * 4] = value[:, :c_old * 4].repeat(1, repeat, 1, 1) / repeat
            if k_old == k and bool(args.get("inpaint", False)) == self.inpaint:
                out[:, c * 4:] = value[:, c_old * 4:]
        elif name == "tail.weight":
            out = value.repeat(repeat, 1, 1, 1)
        elif gated and value.shape == target.shape:
            out = value
        else:
            raise PixelsmithError(f"cannot adapt '{name}' of shape {tuple(value.shape)} to {tuple(target.shape)}")
        return torch.cat([2 * out, torch.zeros_like(out)]) if gated else out


@register_model("resunet", family="restore", example_args={"widths": [8, 16], "blocks": 1})
def resunet(channels: int = 1, widths: list[int] = (48, 96, 192), blocks: int | list[int] = 2, cond_channels: int = 0,
            gated: bool = False, inpaint: bool = False) -> ResUNet:
    """Residual U-Net restorer (pixel-unshuffle input, bias-free residual blocks, one count for every level or
    one per level, optional condition map)."""
    return ResUNet(channels=channels, widths=tuple(widths), blocks=blocks, cond_channels=cond_channels,
                   gated=gated, inpaint=inpaint)
