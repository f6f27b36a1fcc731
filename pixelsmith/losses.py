"""Losses: adversarial (non-saturating, hinge, Wasserstein) and reconstruction."""

from __future__ import annotations

import torch
import torch.nn.functional as F

GAN_LOSSES = ("nonsaturating", "hinge", "wasserstein")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "nonsaturating") -> torch.Tensor:
    """Loss that the discriminator (critic) minimises."""
    if kind == "nonsaturating":
        return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    if kind == "wasserstein":
        return fake_logits.mean() - real_logits.mean()
    raise ValueError(f"unknown GAN loss '{kind}'; accepted: {', '.join(GAN_LOSSES)}")


def generator_loss(fake_logits: torch.Tensor, kind: str = "nonsaturating") -> torch.Tensor:
    """Loss that the generator minimises."""
    if kind == "nonsaturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if kind in ("hinge", "wasserstein"):
        return -fake_logits.mean()
    raise ValueError(f"unknown GAN loss '{kind}'; accepted: {', '.join(GAN_LOSSES)}")
