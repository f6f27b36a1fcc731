"""Losses: adversarial (non-saturating, hinge, Wasserstein) and reconstruction."""

from __future__ import annotations

import torch
import torch.nn.functional as F

GAN_LOSSES = ("nonsaturating", "hinge", "wasserstein")
RESTORATION_LOSSES = ("l1", "mse", "psnr")


def restoration_loss(restored: torch.Tensor, clean: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Loss between a restored and a clean batch (values in [0, 1]):

    - ``l1``: mean absolute error (trains restorers fastest from scratch);
    - ``mse``: mean squared error, the error PSNR measures, dominated by the hardest samples of a batch;
    - ``psnr``: minus the mean per-image PSNR, ``mean(10 log10(mse_i))``, so that each image counts by its dB as
      a benchmark averages them: a model trained over a range of noise levels then gives up neither the low
      levels (small errors) nor the high ones (``mse_i`` is floored at 1e-8).
    """
    if kind == "l1":
        return F.l1_loss(restored, clean)
    if kind == "mse":
        return F.mse_loss(restored, clean)
    if kind == "psnr":
        per_image = (restored - clean).pow(2).flatten(1).mean(1)
        return 10 * torch.log10(per_image.clamp_min(1e-8)).mean()
    raise ValueError(f"unknown restoration loss '{kind}'; accepted: {', '.join(RESTORATION_LOSSES)}")


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
