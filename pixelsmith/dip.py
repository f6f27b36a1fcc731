"""Deep Image Prior (Ulyanov et al. 2018): an untrained encoder-decoder fitted to one degraded image from a
fixed random input; its structure fits the image before the noise, so stopping early restores it."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.precision import autocast
from pixelsmith.progress import Progress, report


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, padding_mode="reflect"),
                         nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True))


class SkipNet(nn.Module):
    """The 'skip' hourglass of the DIP paper, shortened: 4 down levels, bilinear upsampling, 4-channel skips."""

    def __init__(self, cin: int = 32, cout: int = 3, width: int = 64, levels: int = 4) -> None:
        super().__init__()
        self.downs = nn.ModuleList()
        self.skips = nn.ModuleList()
        self.ups = nn.ModuleList()
        c = cin
        for _ in range(levels):
            self.skips.append(_block(c, 4))
            self.downs.append(nn.Sequential(_block(c, width, stride=2), _block(width, width)))
            c = width
        for _ in range(levels):
            self.ups.append(nn.Sequential(_block(width + 4, width), _block(width, width)))
        self.out = nn.Conv2d(width, cout, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        skips = []
        y = z
        for skip, down in zip(self.skips, self.downs):
            skips.append(skip(y))
            y = down(y)
        for up in self.ups:
            s = skips.pop()
            y = F.interpolate(y, size=s.shape[-2:], mode="bilinear", align_corners=False)
            y = up(torch.cat([y, s], 1))
        return torch.sigmoid(self.out(y))


def deep_image_prior(y: torch.Tensor, mask: torch.Tensor | None = None, sigma: float | None = None,
                     iterations: int = 1500, lr: float = 0.01, seed: int = 0, progress: Progress = None
                     ) -> torch.Tensor:
    """Fit a SkipNet to (C,H,W) ``y`` and return its smoothed output.

    Denoising (``mask=None``): the fit is stopped when the mean squared residual falls to the noise variance
    (``sigma`` on 0-255, the discrepancy principle), or after ``iterations``. Inpainting: the loss only sees
    known pixels (mask 0) and the known pixels are kept in the result. The output is an exponential average
    of the iterates (factor 0.99), as the paper does, and the input gets a little fresh noise each step.
    An 'iterations' event (with the residual) follows each iteration.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    c, h, w = y.shape
    net = SkipNet(cout=c)
    z = torch.rand(1, 32, h, w, generator=g) * 0.1
    target = y[None]
    known = 1 - mask[None] if mask is not None else torch.ones_like(target[:, :1])
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    average = None
    threshold = (sigma / 255.0) ** 2 if sigma is not None and mask is None else None
    for i in range(iterations):
        noisy_z = z + torch.randn(z.shape, generator=g) * (1 / 30)
        with autocast():
            out = net(noisy_z).float()
        residual = ((out - target) ** 2 * known).sum() / (known.sum() * c)
        opt.zero_grad(set_to_none=True)
        residual.backward()
        opt.step()
        out = out.detach()
        average = out if average is None else 0.99 * average + 0.01 * out
        report(progress, "iterations", i + 1, iterations, mse=residual.item())
        if threshold is not None and i > 100 and residual.item() < threshold:
            break
    result = average[0]
    if mask is not None:
        result = y * (1 - mask) + result * mask
    return result.clamp(0, 1)
