"""Variational autoencoders (Kingma and Welling 2014): a convolutional encoder to a diagonal Gaussian posterior,
a standard normal prior and a convolutional decoder with a likelihood suited to the data: Bernoulli for
binarised images (MNIST) or a discretised logistic for 8-bit pixels (Salimans et al. 2017, one component).
beta-VAE (Higgins et al. 2017) is the same model trained with a weighted KL term (the ``vae`` objective)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.errors import PixelsmithError
from pixelsmith.models.gan import TEMPERATURE, layout
from pixelsmith.progress import Progress
from pixelsmith.registry import register_model

LIKELIHOODS = ("bernoulli", "logistic")


def discretized_logistic_log_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(x) per pixel of 8-bit values x in [0, 1] under a logistic of ``mean`` (in [-1, 1] units) and scale,
    integrated over each value's bin, the end bins open (PixelCNN++)."""
    x = x * 2 - 1
    centered, inv_scale = x - mean, torch.exp(-log_scale)
    plus, minus = inv_scale * (centered + 1 / 255), inv_scale * (centered - 1 / 255)
    log_cdf_plus = plus - F.softplus(plus)  # log sigmoid(plus), for the lowest bin
    log_one_minus_cdf_minus = -F.softplus(minus)  # log (1 - sigmoid(minus)), for the highest bin
    middle = torch.log((torch.sigmoid(plus) - torch.sigmoid(minus)).clamp_min(1e-12))
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_minus, middle))


class ConvVAE(nn.Module):
    """Encoder: strided 4x4 convs (ReLU) to the first feature map's side, a hidden layer, then the posterior's
    mean and log-variance. Decoder: the mirror image, with transposed convs."""

    def __init__(self, channels: int = 1, latent_dim: int = 32, width: int = 32, hidden: int = 512, size: int = 28,
                 likelihood: str = "bernoulli") -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise PixelsmithError(f"likelihood='{likelihood}' is not known; accepted: {', '.join(LIKELIHOODS)}")
        self.latent_dim, self.likelihood, self.channels = latent_dim, likelihood, channels
        self.base, ups = layout(size)
        widths = [width * 2 ** i for i in range(ups)]  # w, 2w for 28 px
        enc: list[nn.Module] = []
        for cin, cout in zip([channels] + widths, widths):
            enc += [nn.Conv2d(cin, cout, 4, 2, 1), nn.ReLU(True)]
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(widths[-1] * self.base ** 2, hidden), nn.ReLU(True),
                                     nn.Linear(hidden, 2 * latent_dim))
        out = channels * (2 if likelihood == "logistic" else 1)
        dec: list[nn.Module] = [nn.Linear(latent_dim, hidden), nn.ReLU(True),
                                nn.Linear(hidden, widths[-1] * self.base ** 2), nn.ReLU(True),
                                nn.Unflatten(1, (widths[-1], self.base, self.base))]
        for cin, cout in zip(widths[::-1], widths[::-1][1:]):
            dec += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.ReLU(True)]
        dec += [nn.ConvTranspose2d(widths[0], out, 4, 2, 1)]
        self.decoder = nn.Sequential(*dec)
        self.sample_options = {"temperature": TEMPERATURE}

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance (N, latent_dim) of images in [0, 1]."""
        return self.encoder(images * 2 - 1).chunk(2, dim=1)

    def log_prob(self, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z) per image, in nats."""
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, images, reduction="none").flatten(1).sum(1)
        mean, log_scale = out.chunk(2, dim=1)
        return discretized_logistic_log_prob(images, mean, log_scale.clamp_min(-7)).flatten(1).sum(1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image in [0, 1] for latents (N, latent_dim)."""
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            return torch.sigmoid(out)
        return (out[:, :self.channels].clamp(-1, 1) + 1) / 2

    def loss_terms(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(x|z) with one posterior sample, KL(q(z|x) || p(z))) per image, for the ELBO."""
        mu, logvar = self.encode(images)
        eps = torch.randn(mu.shape, generator=generator).to(mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return self.log_prob(images, z), kl

    forward = loss_terms

    @torch.no_grad()
    def log_likelihood(self, images: torch.Tensor, k: int = 1000, generator: torch.Generator | None = None,
                       chunk: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
        """(ELBO, importance-weighted bound on log p(x) with ``k`` posterior samples) per image, in nats."""
        mu, logvar = self.encode(images)
        std = torch.exp(0.5 * logvar)
        weights = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn((m, *mu.shape), generator=generator).to(mu.device)
            z = mu + std * eps  # (m, N, D)
            log_prior = (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).sum(-1)
            log_post = (-0.5 * eps.pow(2) - 0.5 * math.log(2 * math.pi) - std.log()).sum(-1)
            log_px = self.log_prob(images.repeat(m, 1, 1, 1), z.flatten(0, 1)).view(m, -1)
            weights.append(log_px + log_prior - log_post)
        w = torch.cat(weights)
        return w.mean(0), torch.logsumexp(w, 0) - math.log(k)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, progress: Progress = None,
               temperature: float = 1.0) -> torch.Tensor:
        """Decoder means of ``n`` latents drawn from the prior (scaled by ``temperature``)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator) * temperature
        return self.decode(z.to(device))


@register_model("vae", family="generate", example_args={"latent_dim": 4, "width": 4, "hidden": 16})
def vae(channels: int = 1, latent_dim: int = 32, width: int = 32, hidden: int = 512, size: int = 28,
        likelihood: str = "bernoulli") -> ConvVAE:
    """Convolutional VAE with a Bernoulli (binarised images) or discretised logistic (8-bit) likelihood."""
    return ConvVAE(channels, latent_dim, width, hidden, size, likelihood)
