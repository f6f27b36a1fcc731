"""The ``vae`` objective: maximise the ELBO, log p(x|z) - beta KL(q(z|x) || p(z)) (beta = 1 is the VAE, beta > 1
the beta-VAE), on images binarised afresh at every step for a Bernoulli model (dynamic binarisation)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.training.objectives import Objective, check_image_shape, register_objective


@dataclass
class VAEArgs:
    beta: float = 1.0  # weight of the KL term
    kl_warmup: int = 0  # steps over which the KL weight rises linearly from 0 to beta (0 = from the start)

    def check(self) -> None:
        if self.beta <= 0:
            raise PixelsmithError(f"objective_args.beta={self.beta} must be > 0")
        if self.kl_warmup < 0:
            raise PixelsmithError(f"objective_args.kl_warmup={self.kl_warmup} must be >= 0")


@register_objective("vae")
class VAEObjective(Objective):
    """One ELBO step per batch; previews show held-out images, their reconstructions, prior samples and a
    latent interpolation between held-out pairs, and report the held-out negative ELBO in nats."""

    families = ("generate",)
    datasets = ("mnist", "fashion-mnist", "folder")
    Args = VAEArgs
    example_args = {"beta": 2.0, "kl_warmup": 10}
    example_model = "vae"

    def __init__(self, cfg, model, wrap):
        super().__init__(cfg, model, wrap)
        if not hasattr(model, "loss_terms"):
            raise PixelsmithError(f"objective=vae trains VAEs; model={cfg.model} is not one")
        self.net = wrap(model)
        self.optimizers["model"] = self.adam(model.parameters())

    def check_data(self, dataset) -> None:
        super().check_data(dataset)
        check_image_shape(dataset, self.model)

    def prepare(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.model.likelihood == "bernoulli":
            return torch.bernoulli(images, generator=generator) if images.device.type == "cpu" else \
                (torch.rand(images.shape, generator=generator).to(images.device) < images).float()
        return images

    def step(self, batch, generator: torch.Generator) -> dict[str, float]:
        x = self.prepare(batch[0], generator)
        # the optimizer's own step count, saved in the checkpoint, so a resumed run weighs the KL term alike
        step = self.optimizers["model"].state.get(next(iter(self.model.parameters())), {}).get("step", 0)
        weight = self.args.beta * (min(1.0, float(step) / self.args.kl_warmup) if self.args.kl_warmup else 1.0)
        with self.autocast():
            log_px, kl = self.net(x, generator)  # the model's forward is its loss terms (so DDP syncs them)
        log_px, kl = log_px.float(), kl.float()
        loss = (kl * weight - log_px).mean()
        self.update("model", loss, self.model.parameters())
        return {"loss": loss.item(), "neg_elbo": (kl - log_px).mean().item(), "kl": kl.mean().item()}

    def held_out(self, build_held_out, device):
        data = build_held_out()
        images = torch.stack([data[k][0] for k in range(min(256, len(data)))]).to(device)
        g = torch.Generator().manual_seed(self.cfg.seed)
        return self.prepare(images, g), torch.randn(8, self.model.latent_dim, generator=g).to(device)

    @torch.no_grad()
    def preview(self, model: nn.Module, held_out) -> tuple[torch.Tensor, int, dict[str, float]]:
        x, z = held_out
        mu, _ = model.encode(x[:16])
        recon = model.decode(mu)
        t = torch.linspace(0, 1, 8, device=x.device)[:, None]
        interpolations = [model.decode(mu[i] * (1 - t) + mu[i + 1] * t) for i in range(0, 4, 2)]
        samples = model.decode(z)
        log_px, kl = model.loss_terms(x, torch.Generator().manual_seed(0))
        rows = [x[:8], recon[:8], x[8:16], recon[8:16], *interpolations, samples]
        return torch.cat(rows), 8, {"val_neg_elbo": float((kl - log_px).mean())}
