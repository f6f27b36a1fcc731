"""Generative adversarial networks: DCGAN (Radford et al. 2016) adapted to 28x28 images."""

from __future__ import annotations

import torch
import torch.nn as nn

from pixelsmith.models.generative import SampleOption
from pixelsmith.progress import Progress
from pixelsmith.registry import register_model


def _dcgan_init(module: nn.Module) -> None:
    # The DCGAN paper's initialisation: N(0, 0.02) for convs, N(1, 0.02) for BatchNorm scales.
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGAN(nn.Module):
    """Generator (z -> 7x7 -> 14x14 -> 28x28, transposed convs, BatchNorm, ReLU, tanh) and
    discriminator (strided convs, LeakyReLU 0.2, BatchNorm, one logit), kept in one module so one
    folder holds both and training can resume or fine-tune from it."""

    sample_options = {"temperature": SampleOption(float, 1.0, "scale of the latent noise; below 1 gives less varied, "
                                                              "more typical images", minimum=0.0, maximum=4.0)}

    def __init__(self, latent_dim: int = 100, channels: int = 1, width: int = 64) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        w = width
        self.generator = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 4 * w, 7, 1, 0, bias=False),  # 1 -> 7
            nn.BatchNorm2d(4 * w),
            nn.ReLU(True),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False),  # 7 -> 14
            nn.BatchNorm2d(2 * w),
            nn.ReLU(True),
            nn.ConvTranspose2d(2 * w, channels, 4, 2, 1, bias=False),  # 14 -> 28
            nn.Tanh(),
        )
        self.discriminator = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1, bias=False),  # 28 -> 14
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False),  # 14 -> 7
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * w, 1, 7, 1, 0, bias=False),  # 7 -> 1
            nn.Flatten(),
        )
        _dcgan_init(self)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from latents of shape (N, latent_dim)."""
        return (self.generator(z[:, :, None, None]) + 1) / 2

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        """One real/fake logit per image in [0, 1]."""
        return self.discriminator(images * 2 - 1).squeeze(1)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, progress: Progress = None,
               temperature: float = 1.0) -> torch.Tensor:
        """``n`` images in [0, 1], drawn with ``generator`` for reproducibility."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device) * temperature
        return self.generate(z)  # one forward pass: nothing to report to ``progress``


@register_model("dcgan", family="generate", example_args={"latent_dim": 8, "width": 8})
def dcgan(latent_dim: int = 100, channels: int = 1, width: int = 64) -> DCGAN:
    """DCGAN for 28x28 images (MNIST, Fashion-MNIST)."""
    return DCGAN(latent_dim=latent_dim, channels=channels, width=width)
