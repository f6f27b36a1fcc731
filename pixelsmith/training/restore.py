"""The ``restore`` objective: supervised restoration of (degraded, condition, clean) patches."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from pixelsmith.data.patches import RESTORES
from pixelsmith.errors import PixelsmithError
from pixelsmith.losses import RESTORATION_LOSSES, restoration_loss
from pixelsmith.metrics import psnr
from pixelsmith.training.objectives import Objective, register_objective


@dataclass
class RestoreArgs:
    loss: str = "l1"  # l1 (trains fastest from scratch), mse, or psnr (per-image dB, for fine-tuning)

    def check(self) -> None:
        if self.loss not in RESTORATION_LOSSES:
            raise PixelsmithError(f"objective_args.loss='{self.loss}' is not known; accepted: "
                                  f"{', '.join(RESTORATION_LOSSES)}")


@register_objective("restore")
class RestoreObjective(Objective):
    """The model restores the degraded patch (with its condition map: noise level, quality or hole mask; an
    empty condition means a blind model); the loss compares it with the clean patch."""

    families = ("restore",)
    datasets = ("patches",)
    Args = RestoreArgs
    example_args = {"loss": "mse"}
    example_model = "resunet"

    def __init__(self, cfg, model, wrap):
        super().__init__(cfg, model, wrap)
        if cfg.data_args.get("degradation", "noise") not in RESTORES:
            raise PixelsmithError(f"objective=restore learns to undo a degradation; accepted data_args.degradation: "
                                  f"{', '.join(RESTORES)} ('none' is for objective=super_resolve)")
        self.net = wrap(model)
        self.optimizers["model"] = self.adam(model.parameters())

    def model_card(self) -> dict:
        return {"restores": RESTORES[self.cfg.data_args.get("degradation", "noise")]}

    def step(self, batch, generator: torch.Generator) -> dict[str, float]:
        degraded, cond, clean = batch
        with self.autocast():
            restored = self.net(degraded, cond) if cond.shape[1] else self.net(degraded)
        loss = restoration_loss(restored.float(), clean, self.args.loss)
        self.update("model", loss, self.model.parameters())
        return {"loss": loss.item(), "psnr": psnr(restored.float().clamp(0, 1), clean).mean().item()}

    @torch.no_grad()
    def preview(self, model: nn.Module, held_out) -> tuple[torch.Tensor, int, dict[str, float]]:
        """Rows of degraded, restored and clean held-out patches, and their PSNR."""
        degraded, cond, clean = held_out
        with self.autocast():
            restored = (model(degraded, cond) if cond.shape[1] else model(degraded)).float().clamp(0, 1)
        images = torch.cat([degraded.clamp(0, 1), restored, clean])
        return images, degraded.shape[0], {"val_psnr": psnr(restored, clean).mean().item()}
