"""The ``gan`` objective: adversarial training with the explicit discriminator and generator updates in one
place, as PyTorch Lightning's GAN example keeps them. Covers DCGAN (non-saturating loss), hinge GANs and
WGAN-GP (Wasserstein loss, several critic updates per generator update, gradient penalty)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn as nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.losses import GAN_LOSSES, discriminator_loss, generator_loss
from pixelsmith.training.objectives import Objective, check_generator_data, register_objective


@dataclass
class GANArgs:
    loss: str = "nonsaturating"  # one of GAN_LOSSES
    n_critic: int = 1  # discriminator updates per generator update, each on its own real batch
    lr_g: float | None = None  # learning rates and Adam betas of each network (default: the recipe's lr, betas)
    lr_d: float | None = None
    betas_g: tuple[float, float] | None = None
    betas_d: tuple[float, float] | None = None
    gp_weight: float = 0.0  # weight of the WGAN-GP gradient penalty (Gulrajani et al. 2017); 0 = none

    def check(self) -> None:
        if self.loss not in GAN_LOSSES:
            raise PixelsmithError(f"objective_args.loss='{self.loss}' is not known; accepted: {', '.join(GAN_LOSSES)}")
        if self.n_critic < 1:
            raise PixelsmithError(f"objective_args.n_critic={self.n_critic} must be at least 1")
        for name in ("lr_g", "lr_d"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise PixelsmithError(f"objective_args.{name}={getattr(self, name)} must be > 0")
        for name in ("betas_g", "betas_d"):
            betas = getattr(self, name)
            if betas is not None and (len(betas) != 2 or not all(0 <= b < 1 for b in betas)):
                raise PixelsmithError(f"objective_args.{name}={list(betas)} must be two numbers in [0, 1)")
        if self.gp_weight < 0:
            raise PixelsmithError(f"objective_args.gp_weight={self.gp_weight} must be >= 0")


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator
                     ) -> torch.Tensor:
    """(||grad critic(x)|| - 1)^2 on random points between real and fake images (WGAN-GP), in float32."""
    eps = torch.rand(real.shape[0], 1, 1, 1, generator=generator).to(real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed).float().sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


@register_objective("gan")
class GANObjective(Objective):
    """``n_critic`` discriminator updates, then one generator update, per step. The model holds ``generator``
    and ``discriminator`` modules and ``latent_dim``; the networks work in [-1, 1], the package in [0, 1].
    A model with ``num_classes`` > 0 gets the batch's labels (a class-conditional GAN)."""

    families = ("generate",)
    datasets = ("mnist", "fashion-mnist", "folder")
    Args = GANArgs
    example_args = {"loss": "wasserstein", "n_critic": 2, "gp_weight": 10.0, "lr_d": 4e-4}
    example_model = "dcgan"

    def __init__(self, cfg, model, wrap):
        super().__init__(cfg, model, wrap)
        self.G, self.D = wrap(model.generator), wrap(model.discriminator)
        self.conditional = getattr(model, "num_classes", 0) > 0
        a = self.args
        self.optimizers["generator"] = self.adam(model.generator.parameters(), a.lr_g, a.betas_g)
        self.optimizers["discriminator"] = self.adam(model.discriminator.parameters(), a.lr_d, a.betas_d)

    def check_data(self, dataset) -> None:
        super().check_data(dataset)
        check_generator_data(dataset, self.model, self.cfg)

    def batches_per_step(self) -> int:
        return self.args.n_critic

    def ema_target(self) -> nn.Module:
        return self.model.generator

    def _generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        z = z[:, :, None, None]
        return self.G(z, labels) if self.conditional else self.G(z)

    def _discriminate(self, images: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return (self.D(images, labels) if self.conditional else self.D(images)).float()

    def step(self, batch, generator: torch.Generator) -> dict[str, float]:
        reals = batch[0] * 2 - 1
        labels = batch[1] if len(batch) > 1 else None
        chunks = zip(reals.chunk(self.args.n_critic), (labels.chunk(self.args.n_critic) if labels is not None
                                                       else [None] * self.args.n_critic))
        for real, label in chunks:
            z = torch.randn(real.shape[0], self.model.latent_dim, generator=generator).to(real.device)
            with self.autocast():
                fake = self._generate(z, label)
                d_loss = discriminator_loss(self._discriminate(real, label), self._discriminate(fake.detach(), label),
                                            self.args.loss)
            losses = {"d_loss": d_loss.item()}
            if self.args.gp_weight > 0:
                penalty = gradient_penalty(partial(self._discriminate, labels=label), real, fake.detach().float(),
                                           generator)
                d_loss = d_loss + self.args.gp_weight * penalty
                losses["gp"] = penalty.item()
            self.update("discriminator", d_loss, self.model.discriminator.parameters())
        with self.autocast():
            g_loss = generator_loss(self._discriminate(fake, label), self.args.loss)
        self.update("generator", g_loss, self.model.generator.parameters())
        return losses | {"g_loss": g_loss.item()}

    def held_out(self, build_held_out, device):
        """Fixed latents, so successive grids compare; a conditional model draws 8 rows of classes 0, 1, ... in turn
        (a column per class)."""
        k = self.model.num_classes if self.conditional else 0
        n = 8 * k if k else 64
        z = torch.randn(n, self.model.latent_dim, generator=torch.Generator().manual_seed(self.cfg.seed))
        labels = torch.arange(n) % k if k else None
        return z.to(device), None if labels is None else labels.to(device)

    @torch.no_grad()
    def preview(self, model: nn.Module, held_out) -> tuple[torch.Tensor, int, dict[str, float]]:
        z, labels = held_out
        images = model.generate(z, labels) if self.conditional else model.generate(z)
        return images, self.model.num_classes if self.conditional else 8, {}
