"""The ``diffusion`` objective: denoising score matching as DDPM trains it (Ho et al. 2020): noise each image to a
uniformly drawn timestep and regress the network's output on the noise (or on v), with the batch's labels
dropped to the null class with probability ``p_uncond`` so one network learns the conditional and the
unconditional model that classifier-free guidance combines (Ho and Salimans 2022)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.errors import PixelsmithError
from pixelsmith.training.objectives import Objective, check_generator_data, register_objective


@dataclass
class DiffusionArgs:
    p_uncond: float = 0.1  # probability of training a sample without its label (the null class)
    preview_sampler: str = "dpm"  # the sampler and steps of the preview grids
    preview_steps: int = 25
    snr_gamma: float = 0.0  # > 0: Min-SNR-gamma loss weights (Hang et al. 2023); 0: the plain mean squared error

    def check(self) -> None:
        from pixelsmith.schedulers import SAMPLERS

        if not 0 <= self.p_uncond <= 1:
            raise PixelsmithError(f"objective_args.p_uncond={self.p_uncond} must be in [0, 1]")
        if self.preview_sampler not in SAMPLERS:
            raise PixelsmithError(f"objective_args.preview_sampler='{self.preview_sampler}' is not known; "
                                  f"accepted: {', '.join(SAMPLERS)}")
        if self.preview_steps < 1:
            raise PixelsmithError(f"objective_args.preview_steps={self.preview_steps} must be at least 1")
        if self.snr_gamma < 0:
            raise PixelsmithError(f"objective_args.snr_gamma={self.snr_gamma} must be 0 (off) or positive "
                                  f"(5 is the paper's)")


@register_objective("diffusion")
class DiffusionObjective(Objective):
    """One denoising regression step per batch; previews are samples from fixed noise (a column per class for
    a conditional model) and report the held-out denoising loss at fixed timesteps."""

    families = ("generate",)
    datasets = ("mnist", "fashion-mnist", "folder")
    Args = DiffusionArgs
    example_args = {"p_uncond": 0.2, "preview_steps": 3, "snr_gamma": 5.0}
    example_model = "ddpm"

    def __init__(self, cfg, model, wrap):
        super().__init__(cfg, model, wrap)
        if not hasattr(model, "schedule"):
            raise PixelsmithError(f"objective=diffusion trains diffusion models; model={cfg.model} is not one")
        self.net = wrap(model)
        self.optimizers["model"] = self.adam(model.parameters())

    def check_data(self, dataset) -> None:
        super().check_data(dataset)
        check_generator_data(dataset, self.model, self.cfg)

    def loss(self, net: nn.Module, images: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator
             ) -> torch.Tensor:
        """The mean squared error of ``net``'s output against its target, at random timesteps and noise, each
        sample weighted by :meth:`weights`."""
        schedule, x0 = self.model.schedule, images * 2 - 1
        t = torch.randint(schedule.timesteps, (x0.shape[0],), generator=generator).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        with self.autocast():
            out = net(schedule.add_noise(x0, noise, t), t, labels)
        errors = F.mse_loss(out.float(), schedule.target(x0, noise, t, self.model.prediction), reduction="none")
        return (errors.mean(dim=(1, 2, 3)) * self.weights(t)).mean()

    def weights(self, t: torch.Tensor) -> torch.Tensor:
        """Per-sample loss weights: 1, or with ``snr_gamma`` the Min-SNR-gamma weights that make every timestep's
        loss that of the clean image with the signal-to-noise ratio capped at gamma: min(SNR, gamma) / SNR for
        noise prediction, min(SNR, gamma) / (SNR + 1) for v."""
        gamma = self.args.snr_gamma
        if not gamma:
            return torch.ones(t.shape, device=t.device)
        a = self.model.schedule.abars(t)
        snr = a / (1 - a)
        capped = snr.clamp(max=gamma)
        return capped / (snr + 1) if self.model.prediction == "v" else capped / snr.clamp(min=1e-12)

    def labels(self, batch, generator: torch.Generator) -> torch.Tensor | None:
        if not self.model.num_classes:
            return None
        labels = batch[1].clone()
        drop = torch.rand(labels.shape, generator=generator).to(labels.device) < self.args.p_uncond
        labels[drop] = self.model.num_classes
        return labels

    def step(self, batch, generator: torch.Generator) -> dict[str, float]:
        labels = self.labels(batch, generator)
        loss = self.loss(self.net, batch[0], labels, generator)
        self.update("model", loss, self.model.parameters())
        return {"loss": loss.item()}

    def held_out(self, build_held_out, device):
        data = build_held_out()
        images = torch.stack([torch.as_tensor(data[k][0]) for k in range(min(256, len(data)))]).to(device)
        k = self.model.num_classes
        return images, (8 * k if k else 64)

    @torch.no_grad()
    def preview(self, model: nn.Module, held_out) -> tuple[torch.Tensor, int, dict[str, float]]:
        images, n = held_out
        k = model.num_classes
        g = torch.Generator().manual_seed(self.cfg.seed)
        options = dict(sampler=self.args.preview_sampler, steps=self.args.preview_steps)
        if k:
            samples = torch.cat([model.sample(n // k, generator=torch.Generator().manual_seed(self.cfg.seed),
                                              label=c, **options) for c in range(k)])
            # grid row r, column c: class c
            samples = samples.view(k, n // k, *samples.shape[1:]).transpose(0, 1).reshape(n, *samples.shape[1:])
        else:
            samples = model.sample(n, generator=g, **options)
        val = self.loss(model, images, None, torch.Generator().manual_seed(self.cfg.seed + 1))
        return samples, k or 8, {"val_loss": float(val)}
