"""The ``autoregressive`` objective: maximum likelihood for a model with an exact one (the PixelCNN), on images
binarised afresh at every step (dynamic binarisation, as for the Bernoulli VAE). A class-conditional model is
trained on the true labels, p(x | y)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.training.objectives import Objective, check_generator_data, register_objective


def binarize_batch(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each pixel 1 with probability its intensity (drawn on the CPU generator, so runs are reproducible)."""
    return (torch.rand(images.shape, generator=generator).to(images.device) < images).float()


@register_objective("autoregressive")
class AutoregressiveObjective(Objective):
    """One negative log-likelihood step per batch, in nats per image; previews are samples drawn pixel by pixel
    (a column per class for a conditional model) and report the held-out NLL in nats and bits per dimension."""

    families = ("generate",)
    datasets = ("mnist", "fashion-mnist", "folder")
    example_model = "pixelcnn"

    def __init__(self, cfg, model, wrap):
        super().__init__(cfg, model, wrap)
        if not hasattr(model, "nll"):
            raise PixelsmithError(f"objective=autoregressive trains models with an exact likelihood (pixelcnn); "
                                  f"model={cfg.model} is not one")
        self.net = wrap(model)
        self.optimizers["model"] = self.adam(model.parameters())

    def check_data(self, dataset) -> None:
        super().check_data(dataset)
        check_generator_data(dataset, self.model, self.cfg)

    def labels(self, batch) -> torch.Tensor | None:
        return batch[1] if self.model.num_classes else None

    def step(self, batch, generator: torch.Generator) -> dict[str, float]:
        x = binarize_batch(batch[0], generator)
        with self.autocast():
            logits = self.net(x, self.labels(batch))
        nll = nn.functional.binary_cross_entropy_with_logits(logits.float(), x, reduction="none").flatten(1).sum(1)
        loss = nll.mean()
        self.update("model", loss, self.model.parameters())
        return {"loss": loss.item(), "bits_per_dim": loss.item() / x[0].numel() / math.log(2)}

    def held_out(self, build_held_out, device):
        data = build_held_out()
        samples = [data[k] for k in range(min(256, len(data)))]
        images = torch.stack([torch.as_tensor(s[0]) for s in samples]).to(device)
        labels = torch.as_tensor([int(s[1]) for s in samples]).to(device)
        return binarize_batch(images, torch.Generator().manual_seed(self.cfg.seed)), labels

    @torch.no_grad()
    def preview(self, model: nn.Module, held_out) -> tuple[torch.Tensor, int, dict[str, float]]:
        x, labels = held_out
        k = model.num_classes
        g = torch.Generator().manual_seed(self.cfg.seed)
        classes = torch.arange(k).repeat(4).to(x.device) if k else None  # grid row r, column c: class c
        samples = model.draw(32 if classes is None else len(classes), classes, generator=g)
        nll = float(model.nll(x, labels if k else None).mean())
        return samples, k or 8, {"val_nll": nll, "val_bits_per_dim": nll / x[0].numel() / math.log(2)}
