"""The ``super_resolve`` objective: clean patches downscaled on the fly by a scale drawn per step, upscaled back."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from pixelsmith.degradations import bicubic_downscale
from pixelsmith.errors import PixelsmithError
from pixelsmith.losses import RESTORATION_LOSSES, restoration_loss
from pixelsmith.metrics import psnr
from pixelsmith.nn import channels_last
from pixelsmith.training.objectives import Objective, register_objective


@dataclass
class SuperResolveArgs:
    loss: str = "l1"  # as EDSR trains; mse or psnr also accepted
    scales: list[int] = field(default_factory=lambda: [2, 3, 4])  # one drawn per step; each needs a model tail
    quantize_prob: float = 0.5  # low-resolution inputs rounded to 8 bits this often, as stored test images are

    def check(self) -> None:
        if self.loss not in RESTORATION_LOSSES:
            raise PixelsmithError(f"objective_args.loss='{self.loss}' is not known; accepted: "
                                  f"{', '.join(RESTORATION_LOSSES)}")
        if not self.scales or any(not isinstance(s, int) or s < 2 for s in self.scales):
            raise PixelsmithError(f"objective_args.scales={self.scales}: give integer factors of at least 2")
        if not 0 <= self.quantize_prob <= 1:
            raise PixelsmithError(f"objective_args.quantize_prob={self.quantize_prob} must be in [0, 1]")


def low_resolution(hr: torch.Tensor, scale: int, quantize: bool) -> torch.Tensor:
    """The bicubic (antialiased, MATLAB imresize-like) downscaling of a batch, optionally rounded to 8 bits."""
    lr = bicubic_downscale(hr, scale).clamp(0, 1)
    return (lr * 255).round() / 255 if quantize else lr


@register_objective("super_resolve")
class SuperResolveObjective(Objective):
    """Each step draws a scale, downscales the clean patches (cropped to a multiple of it) bicubically and trains
    the model to upscale them back; the loss compares with the clean patches."""

    families = ("restore",)
    datasets = ("patches",)
    Args = SuperResolveArgs
    example_args = {"scales": [2, 3]}
    example_model = "mdsr"
    example_data_args = {"degradation": "none"}

    def __init__(self, cfg, model, wrap):
        super().__init__(cfg, model, wrap)
        if cfg.data_args.get("degradation") != "none":
            raise PixelsmithError("objective=super_resolve degrades each batch itself: set data_args.degradation "
                                  "to 'none'")
        missing = set(self.args.scales) - set(getattr(model, "scales", ()))
        if missing:
            raise PixelsmithError(f"objective_args.scales asks for {sorted(missing)} but the model upscales by "
                                  f"{list(getattr(model, 'scales', ()))}")
        self.net = wrap(model)
        self.optimizers["model"] = self.adam(model.parameters())

    def model_card(self) -> dict:
        return {"restores": "sr"}

    def step(self, batch, generator: torch.Generator) -> dict[str, float]:
        scales = self.args.scales
        scale = scales[int(torch.randint(len(scales), (1,), generator=generator))]
        hr = batch[-1]
        hr = hr[..., : hr.shape[-2] // scale * scale, : hr.shape[-1] // scale * scale]
        quantize = float(torch.rand(1, generator=generator)) < self.args.quantize_prob
        lr = low_resolution(hr, scale, quantize)
        with self.autocast():
            sr = self.net(channels_last(lr), scale)
        loss = restoration_loss(sr.float(), hr, self.args.loss)
        self.update("model", loss, self.model.parameters())
        return {"loss": loss.item(), f"psnr_x{scale}": psnr(sr.float().clamp(0, 1), hr).mean().item()}

    @torch.no_grad()
    def preview(self, model: nn.Module, held_out) -> tuple[torch.Tensor, int, dict[str, float]]:
        """Rows of bicubic, model and clean held-out patches at the largest scale, and the PSNR at every scale."""
        hr = held_out[-1]
        metrics, rows = {}, None
        for scale in sorted(self.args.scales):
            target = hr[..., : hr.shape[-2] // scale * scale, : hr.shape[-1] // scale * scale]
            lr = low_resolution(target, scale, quantize=True)
            with self.autocast():
                sr = model(lr, scale).float().clamp(0, 1)
            bicubic = nn.functional.interpolate(lr, scale_factor=scale, mode="bicubic").clamp(0, 1)
            metrics[f"val_psnr_x{scale}"] = psnr(sr, target).mean().item()
            metrics[f"val_gain_x{scale}"] = metrics[f"val_psnr_x{scale}"] - psnr(bicubic, target).mean().item()
            rows = torch.cat([bicubic, sr, target])
        return rows, hr.shape[0], metrics
