"""Generative adversarial networks for 28, 32 and 64 pixel images: DCGAN (Radford et al. 2016), also with a
critic without BatchNorm for WGAN-GP (Gulrajani et al. 2017), and a ResNet GAN (Miyato et al. 2018) with a
spectrally normalised discriminator that is SNGAN and, with classes, a conditional GAN with conditional batch norm in the generator and a projection discriminator (Miyato and
Koyama 2018). Each model holds ``generator`` and ``discriminator`` so one folder keeps both and training can
resume or fine-tune from it; the networks work in [-1, 1], the package in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from pixelsmith.errors import PixelsmithError
from pixelsmith.models.generative import SampleOption, draw_labels
from pixelsmith.nn import ConditionalBatchNorm2d
from pixelsmith.progress import Progress
from pixelsmith.registry import register_model

# image size -> (side of the first feature map, number of 2x upsamplings)
LAYOUTS = {28: (7, 2), 32: (4, 3), 64: (4, 4)}

TEMPERATURE = SampleOption(float, 1.0, "scale of the latent noise; below 1 gives less varied, more typical images",
                           minimum=0.0, maximum=4.0)
LABEL = SampleOption(int, -1, "class of every image (0 to classes-1); -1 draws a class at random for each",
                     minimum=-1)


def layout(size: int) -> tuple[int, int]:
    if size not in LAYOUTS:
        raise PixelsmithError(f"size={size} is not supported; accepted: {', '.join(map(str, LAYOUTS))}")
    return LAYOUTS[size]


class GAN(nn.Module):
    """The sampling contract shared by the GANs: ``generate`` maps latents (and labels) to images in [0, 1],
    ``discriminate`` gives one logit (critic value) per image, ``sample`` draws seeded latents."""

    latent_dim: int
    num_classes: int = 0

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from latents (N, latent_dim) and, for a conditional model, labels (N,)."""
        z = z[:, :, None, None]
        return (self.generator(z, labels) if self.num_classes else self.generator(z)) / 2 + 0.5

    def discriminate(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """One real/fake logit per image in [0, 1]."""
        x = images * 2 - 1
        return (self.discriminator(x, labels) if self.num_classes else self.discriminator(x)).reshape(-1)

    def labels_for(self, n: int, label: int, generator: torch.Generator | None) -> torch.Tensor | None:
        """The class of each of ``n`` samples (:func:`draw_labels`)."""
        return draw_labels(n, label, self.num_classes, generator)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, progress: Progress = None,
               temperature: float = 1.0, label: int = -1) -> torch.Tensor:
        """``n`` images in [0, 1], drawn with ``generator`` for reproducibility (one forward pass: nothing to
        report to ``progress``)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator) * temperature
        labels = self.labels_for(n, label, generator)
        return self.generate(z.to(device), None if labels is None else labels.to(device))


def _dcgan_init(module: nn.Module) -> None:
    # The DCGAN paper's initialisation: N(0, 0.02) for convs, N(1, 0.02) for BatchNorm scales.
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGAN(GAN):
    """Generator (z -> base x base, then 2x transposed convs with BatchNorm and ReLU, tanh) and discriminator
    (strided convs, LeakyReLU 0.2, BatchNorm unless ``critic_norm="none"``, one logit). A critic trained with a
    gradient penalty (WGAN-GP) must not use BatchNorm: the penalty is per sample."""

    sample_options = {"temperature": TEMPERATURE}

    def __init__(self, latent_dim: int = 100, channels: int = 1, width: int = 64, size: int = 28,
                 critic_norm: str = "batch") -> None:
        super().__init__()
        if critic_norm not in ("batch", "none"):
            raise PixelsmithError(f"critic_norm='{critic_norm}' is not known; accepted: batch, none")
        self.latent_dim = latent_dim
        base, ups = layout(size)
        widths = [width * 2 ** (ups - i) for i in range(ups)]  # 4w, 2w for 28 px
        g: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, widths[0], base, 1, 0, bias=False),
                              nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for cin, cout in zip(widths, widths[1:]):
            g += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
        g += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.generator = nn.Sequential(*g)
        d: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for cin, cout in zip(widths[::-1], widths[::-1][1:]):
            norm = nn.BatchNorm2d(cout // 2) if critic_norm == "batch" else nn.Identity()
            d += [nn.Conv2d(cin // 2, cout // 2, 4, 2, 1, bias=critic_norm == "none"), norm, nn.LeakyReLU(0.2, True)]
        d += [nn.Conv2d(widths[0] // 2, 1, base, 1, 0, bias=False), nn.Flatten()]
        self.discriminator = nn.Sequential(*d)
        _dcgan_init(self)


class GeneratorBlock(nn.Module):
    """BN-ReLU-upsample-conv-BN-ReLU-conv with an upsampled 1x1-conv skip; the BNs are per class when
    ``num_classes`` > 0."""

    def __init__(self, cin: int, cout: int, num_classes: int = 0) -> None:
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm2d(cin, num_classes), ConditionalBatchNorm2d(cout, num_classes)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, labels)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), labels)))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class DiscriminatorBlock(nn.Module):
    """(ReLU)-conv-ReLU-conv, then 2x average pooling, with a 1x1-conv skip; the first block of a discriminator
    takes the image itself, so it starts with the convolution (the "optimized block" of SNGAN)."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool, norm) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1, self.conv2 = norm(nn.Conv2d(cin, cout, 3, padding=1)), norm(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = norm(nn.Conv2d(cin, cout, 1)) if (cin != cout or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.skip is None:
            return h + x
        s = x
        if self.first and self.down:
            s = self.skip(F.avg_pool2d(s, 2))
        else:
            s = self.skip(s)
            s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


class ResNetGenerator(nn.Module):
    def __init__(self, latent_dim: int, channels: int, width: int, size: int, num_classes: int) -> None:
        super().__init__()
        self.base, ups = layout(size)
        self.widths = [width * 2 ** (ups - i) for i in range(ups + 1)]  # halves at each upsampling
        self.linear = nn.Linear(latent_dim, self.widths[0] * self.base ** 2)
        self.blocks = nn.ModuleList(GeneratorBlock(cin, cout, num_classes)
                                    for cin, cout in zip(self.widths, self.widths[1:]))
        self.bn = nn.BatchNorm2d(self.widths[-1])
        self.out = nn.Conv2d(self.widths[-1], channels, 3, padding=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(z.flatten(1)).view(-1, self.widths[0], self.base, self.base)
        for block in self.blocks:
            h = block(h, labels)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class ResNetDiscriminator(nn.Module):
    """Residual blocks down to the first feature map's side, ReLU, global sum pooling and a linear logit, plus
    the projection term <embed(label), features> for a conditional model."""

    def __init__(self, channels: int, width: int, size: int, num_classes: int) -> None:
        super().__init__()
        norm = spectral_norm
        _, downs = layout(size)
        widths = [width * 2 ** min(i, downs - 1) for i in range(downs + 1)]  # w, 2w, 2w, ... for 28 px
        blocks = [DiscriminatorBlock(channels, widths[0], True, True, norm)]
        blocks += [DiscriminatorBlock(cin, cout, True, False, norm) for cin, cout in zip(widths[:downs - 1], widths[1:downs])]
        blocks += [DiscriminatorBlock(widths[downs - 1], widths[downs], False, False, norm)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = norm(nn.Linear(widths[downs], 1))
        self.embed = norm(nn.Embedding(num_classes, widths[downs])) if num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum((2, 3))
        logit = self.linear(h).squeeze(1)
        if self.embed is not None:
            logit = logit + (self.embed(labels) * h).sum(1)
        return logit


class ResNetGAN(GAN):
    """ResNet generator and a discriminator with spectral normalisation on every layer (SNGAN); ``num_classes``
    > 0 makes both class-conditional."""

    def __init__(self, latent_dim: int = 128, channels: int = 1, width: int = 32, size: int = 28,
                 num_classes: int = 0) -> None:
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.generator = ResNetGenerator(latent_dim, channels, width, size, num_classes)
        self.discriminator = ResNetDiscriminator(channels, width, size, num_classes)
        self.sample_options = {"temperature": TEMPERATURE} | ({"label": LABEL} if num_classes else {})


@register_model("dcgan", family="generate", example_args={"latent_dim": 8, "width": 8})
def dcgan(latent_dim: int = 100, channels: int = 1, width: int = 64, size: int = 28) -> DCGAN:
    """DCGAN: transposed-conv generator and strided-conv discriminator, both with BatchNorm."""
    return DCGAN(latent_dim=latent_dim, channels=channels, width=width, size=size)


@register_model("sngan", family="generate", example_args={"latent_dim": 8, "width": 4})
def sngan(latent_dim: int = 128, channels: int = 1, width: int = 32, size: int = 28) -> ResNetGAN:
    """SNGAN: ResNet generator and a spectrally normalised ResNet discriminator (train with the hinge loss)."""
    return ResNetGAN(latent_dim, channels, width, size, num_classes=0)


@register_model("wgangp", family="generate", example_args={"latent_dim": 8, "width": 8})
def wgangp(latent_dim: int = 100, channels: int = 1, width: int = 32, size: int = 28) -> DCGAN:
    """WGAN-GP: the DCGAN generator and a critic without BatchNorm (train with the Wasserstein loss, a
    gradient penalty and several critic steps per generator step)."""
    return DCGAN(latent_dim, channels, width, size, critic_norm="none")


@register_model("cgan", family="generate", example_args={"latent_dim": 8, "width": 4, "num_classes": 3})
def cgan(latent_dim: int = 128, channels: int = 1, width: int = 32, size: int = 28, num_classes: int = 10) -> ResNetGAN:
    """Class-conditional GAN: conditional batch norm in the generator, a spectrally normalised projection
    discriminator (Miyato and Koyama 2018); sample a class with ``label`` (``pixelsmith generate --class K``)."""
    return ResNetGAN(latent_dim, channels, width, size, num_classes=num_classes)
