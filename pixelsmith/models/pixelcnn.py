"""Gated PixelCNN (van den Oord et al. 2016) on binarised images: p(x) = prod_i p(x_i | x_<i) in raster order,
each factor a Bernoulli whose logit the network gives, so the test likelihood is exact (no bound). Optional
class conditioning (an embedding added to every gate). Sampling goes pixel by pixel: per row, one pass of the
vertical stack over the rows so far, then one pass of the horizontal stack over that row per pixel."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.errors import PixelsmithError
from pixelsmith.models.gan import LABEL
from pixelsmith.models.generative import draw_labels
from pixelsmith.nn.pixelcnn import GatedPixelLayer
from pixelsmith.precision import autocast
from pixelsmith.progress import Progress, report
from pixelsmith.registry import register_model


class PixelCNN(nn.Module):
    """``layers`` gated layers of ``width`` channels (kernel 3, dilations cycling through ``dilations``), then
    two 1x1 convolutions to one logit per pixel and channel."""

    likelihood = "bernoulli"
    exact_likelihood = True

    def __init__(self, channels: int = 1, size: int = 28, width: int = 64, layers: int = 8,
                 dilations: tuple[int, ...] = (1, 2, 1, 4), num_classes: int = 0) -> None:
        super().__init__()
        if layers < 1 or width < 1:
            raise PixelsmithError(f"layers={layers} and width={width} must be at least 1")
        self.channels, self.size, self.num_classes = channels, size, num_classes
        self.layers = nn.ModuleList(
            GatedPixelLayer(channels if k == 0 else width, width, 3, 1 if k == 0 else dilations[k % len(dilations)],
                            num_classes, first=k == 0) for k in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 1), nn.ReLU(), nn.Conv2d(width, channels, 1))
        self.sample_options = {"label": LABEL} if num_classes else {}

    def vertical(self, x: torch.Tensor, labels: torch.Tensor | None) -> list[torch.Tensor]:
        """Each layer's vertical pre-activation for images ``x`` (only the rows above each row are used)."""
        v, pres = x * 2 - 1, []
        for layer in self.layers:
            pre = layer.vertical_pre(v)
            pres.append(pre)
            v = layer.vertical_out(v, pre, labels)
        return pres

    def horizontal(self, x: torch.Tensor, pres: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Logits (N, C, H, W) from the images' rows ``x`` and the vertical pre-activations of the same rows."""
        h = x * 2 - 1
        for layer, pre in zip(self.layers, pres):
            h = layer.horizontal_out(h, pre, labels)
        return self.head(h)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of p(x_i = 1 | x_<i) for binary images ``x`` (N, C, H, W)."""
        return self.horizontal(x, self.vertical(x, labels), labels)

    def nll(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Exact negative log-likelihood per image, in nats."""
        logits = self(x, labels).float()
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def log_likelihood(self, images: torch.Tensor, k: int = 1, generator: torch.Generator | None = None,
                       labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(x), log p(x)) per image in nats: exact, so the bound and the estimate are one number (``k`` and
        ``generator`` are unused). A class-conditional model is evaluated as the mixture over classes with
        uniform weights, log p(x) = logsumexp_y log p(x | y) - log K, unless ``labels`` are given."""
        if not self.num_classes or labels is not None:
            ll = -self.nll(images, labels)
        else:
            per_class = torch.stack([-self.nll(images, torch.full((len(images),), y, device=images.device))
                                     for y in range(self.num_classes)])
            ll = torch.logsumexp(per_class, 0) - torch.log(torch.tensor(float(self.num_classes)))
        return ll, ll

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, progress: Progress = None,
               label: int = -1) -> torch.Tensor:
        """``n`` binary images, pixel by pixel; with classes, of class ``label`` (-1: every class equally often)."""
        labels = draw_labels(n, label, self.num_classes, generator)
        return self.draw(n, labels, generator, progress)

    @torch.no_grad()
    def draw(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None = None,
             progress: Progress = None) -> torch.Tensor:
        """``n`` binary images of the given classes (one label per image, or None), pixel by pixel."""
        device = next(self.parameters()).device
        labels = None if labels is None else labels.to(device)
        x = torch.zeros(n, self.channels, self.size, self.size, device=device)
        with autocast(True, device.type):
            for i in range(self.size):
                pres = [p[..., i:i + 1, :] for p in self.vertical(x[..., :i + 1, :], labels)]
                for j in range(self.size):  # the channels of a pixel are independent given the pixels before it
                    logits = self.horizontal(x[..., i:i + 1, :], pres, labels)[:, :, 0, j].float()
                    u = torch.rand(logits.shape, generator=generator).to(device)
                    x[:, :, i, j] = (u < torch.sigmoid(logits)).float()
                report(progress, "rows", i + 1, self.size)
        return x


@register_model("pixelcnn", family="generate", example_args={"width": 8, "layers": 3, "dilations": [1, 2], "num_classes": 10})
def pixelcnn(channels: int = 1, size: int = 28, width: int = 64, layers: int = 8,
             dilations: tuple[int, ...] = (1, 2, 1, 4), num_classes: int = 0) -> PixelCNN:
    """Gated PixelCNN with exact likelihood on binarised images; class-conditional when num_classes > 0."""
    return PixelCNN(channels, size, width, layers, tuple(dilations), num_classes)
