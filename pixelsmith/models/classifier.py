"""Domain classifiers (family ``classify``): small CNNs for 28x28 images whose penultimate layer is the feature
space in which generated images are compared with real ones (FID, KID, precision/recall), and whose head
gives the class histogram and confidence of a generator's samples."""

from __future__ import annotations

import torch
import torch.nn as nn

from pixelsmith.registry import register_model


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DomainClassifier(nn.Module):
    """Two stages of two 3x3 conv-BN-ReLU layers with 2x max pooling, a fully connected feature layer (ReLU,
    dropout in training) and a linear head. Images in [0, 1]; any size is pooled to 7x7 before the features."""

    def __init__(self, channels: int = 1, num_classes: int = 10, width: int = 32, features: int = 128) -> None:
        super().__init__()
        self.num_classes = num_classes
        w = width
        self.body = nn.Sequential(*_conv(channels, w), *_conv(w, w), nn.MaxPool2d(2),
                                  *_conv(w, 2 * w), *_conv(2 * w, 2 * w), nn.MaxPool2d(2),
                                  nn.AdaptiveAvgPool2d(7), nn.Flatten(),
                                  nn.Linear(2 * w * 49, features), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(features, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (N, features) of images (N, C, H, W) in [0, 1]."""
        return self.body(images * 2 - 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_classes)."""
        return self.head(self.dropout(self.features(images)))


@register_model("classifier", family="classify", example_args={"width": 4, "features": 8})
def classifier(channels: int = 1, num_classes: int = 10, width: int = 32, features: int = 128) -> DomainClassifier:
    """Small CNN classifier for 28x28 images; its features score generated images (pixelsmith evaluate)."""
    return DomainClassifier(channels=channels, num_classes=num_classes, width=width, features=features)
