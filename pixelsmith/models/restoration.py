"""Restoration networks: a residual U-Net denoiser (DRUNet-like, on pixel-unshuffled input as in FFDNet)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.nn import ResBlock, init_weights, pad_to_multiple
from pixelsmith.registry import register_model


class ResUNet(nn.Module):
    """Predicts the noise of an image and subtracts it.

    The input is pixel-unshuffled by 2 first, so the widest level runs on a quarter of the pixels;
    three levels of bias-free residual blocks follow, with strided-conv downsampling and
    transposed-conv upsampling joined by additive skips.
    """

    def __init__(self, channels: int = 1, widths: tuple[int, ...] = (48, 96, 192), blocks: int = 2) -> None:
        super().__init__()
        self.channels = channels
        self.levels = len(widths)
        unshuffled = channels * 4
        self.head = nn.Conv2d(unshuffled, widths[0], 3, padding=1, bias=False)
        self.down_blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, width in enumerate(widths[:-1]):
            self.down_blocks.append(nn.Sequential(*[ResBlock(width) for _ in range(blocks)]))
            self.downs.append(nn.Conv2d(width, widths[i + 1], 2, stride=2, bias=False))
        self.body = nn.Sequential(*[ResBlock(widths[-1]) for _ in range(blocks)])
        self.ups = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i in reversed(range(len(widths) - 1)):
            self.ups.append(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2, bias=False))
            self.up_blocks.append(nn.Sequential(*[ResBlock(widths[i]) for _ in range(blocks)]))
        self.tail = nn.Conv2d(widths[0], unshuffled, 3, padding=1, bias=False)
        init_weights(self)
        nn.init.zeros_(self.tail.weight)  # starts as the identity: predicts zero noise

    @property
    def multiple(self) -> int:
        """Input sizes are padded to a multiple of this internally."""
        return 2 ** self.levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded, (h, w) = pad_to_multiple(x, self.multiple)
        y = self.head(F.pixel_unshuffle(padded, 2))
        skips = []
        for blocks, down in zip(self.down_blocks, self.downs):
            y = blocks(y)
            skips.append(y)
            y = down(y)
        y = self.body(y)
        for up, blocks in zip(self.ups, self.up_blocks):
            y = blocks(up(y) + skips.pop())
        noise = F.pixel_shuffle(self.tail(y), 2)
        return (padded - noise.to(padded.dtype))[..., :h, :w]


@register_model("resunet", task="denoise")
def resunet(channels: int = 1, widths: list[int] = (48, 96, 192), blocks: int = 2) -> ResUNet:
    """Blind residual U-Net denoiser (pixel-unshuffle input, bias-free residual blocks)."""
    return ResUNet(channels=channels, widths=tuple(widths), blocks=blocks)
