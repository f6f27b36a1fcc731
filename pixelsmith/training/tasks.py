"""The per-family training steps. Each task owns its optimizers and does one update per call of ``step``;
the Trainer owns everything else (data, devices, DDP, EMA, checkpoints, logging)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Callable

import torch
import torch.nn as nn

from pixelsmith.config import TrainConfig
from pixelsmith.losses import discriminator_loss, generator_loss, restoration_loss
from pixelsmith.metrics import psnr


class Task:
    """Base: ``optimizers`` maps a name to an optimizer; ``step`` returns the losses of one update."""

    def __init__(self, cfg: TrainConfig, model: nn.Module, wrap: Callable[[nn.Module], nn.Module]) -> None:
        self.cfg, self.model = cfg, model
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    def autocast(self):
        """bf16 autocast on the model's device when the config asks for it."""
        if not self.cfg.bf16:
            return nullcontext()
        device = next(self.model.parameters()).device.type
        return torch.autocast(device, dtype=torch.bfloat16)

    def adam(self, params) -> torch.optim.Optimizer:
        """Adam with the config's learning rate, betas and weight decay."""
        return torch.optim.Adam(params, lr=self.cfg.lr, betas=self.cfg.betas, weight_decay=self.cfg.weight_decay)

    def update(self, name: str, loss: torch.Tensor, params) -> None:
        """Backward, optional gradient clipping, optimizer step."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        opt.step()


class RestoreTask(Task):
    """Supervised restoration of (degraded, condition, clean) triples with the config's ``loss`` between the
    restored and the clean patch (see :func:`pixelsmith.losses.restoration_loss`). An empty condition means a
    blind model."""

    def __init__(self, cfg, model, wrap):
        super().__init__(cfg, model, wrap)
        self.net = wrap(model)
        self.optimizers["model"] = self.adam(model.parameters())

    def step(self, batch, generator: torch.Generator) -> dict[str, float]:
        degraded, cond, clean = batch
        with self.autocast():
            restored = self.net(degraded, cond) if cond.shape[1] else self.net(degraded)
        loss = restoration_loss(restored.float(), clean, self.cfg.loss)
        self.update("model", loss, self.model.parameters())
        return {"loss": loss.item(), "psnr": psnr(restored.float().clamp(0, 1), clean).mean().item()}

    @torch.no_grad()
    def preview(self, model: nn.Module, held_out) -> tuple[torch.Tensor, dict[str, float]]:
        """Degraded / restored / clean rows for a fixed held-out batch, and its PSNR."""
        degraded, cond, clean = held_out
        with self.autocast():
            restored = (model(degraded, cond) if cond.shape[1] else model(degraded)).float().clamp(0, 1)
        return torch.cat([degraded.clamp(0, 1), restored, clean]), {"val_psnr": psnr(restored, clean).mean().item()}


class GANTask(Task):
    """Adversarial training: one discriminator update, then one generator update, per step."""

    def __init__(self, cfg, model, wrap, loss: str = "nonsaturating"):
        super().__init__(cfg, model, wrap)
        self.G, self.D = wrap(model.generator), wrap(model.discriminator)
        self.loss = cfg.data_args.get("gan_loss", loss)
        self.optimizers["generator"] = self.adam(model.generator.parameters())
        self.optimizers["discriminator"] = self.adam(model.discriminator.parameters())

    def step(self, batch, generator: torch.Generator) -> dict[str, float]:
        real = batch[0] if isinstance(batch, (list, tuple)) else batch
        real = real * 2 - 1  # the networks work in [-1, 1], the package in [0, 1]
        z = torch.randn(real.shape[0], self.model.latent_dim, 1, 1, generator=generator).to(real.device)
        with self.autocast():
            fake = self.G(z)
            d_loss = discriminator_loss(self.D(real).float(), self.D(fake.detach()).float(), self.loss)
        self.update("discriminator", d_loss, self.model.discriminator.parameters())
        with self.autocast():
            g_loss = generator_loss(self.D(fake).float(), self.loss)
        self.update("generator", g_loss, self.model.generator.parameters())
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}

    @torch.no_grad()
    def preview(self, model: nn.Module, held_out) -> tuple[torch.Tensor, dict[str, float]]:
        """64 samples from fixed latents, so grids of successive steps can be compared."""
        z = held_out
        return model.generate(z.to(next(model.parameters()).device)), {}


TASKS = {"restore": RestoreTask, "denoise": RestoreTask, "gan": GANTask}
