"""The ``classify`` objective: cross-entropy training of a classifier (the domain classifiers that score
generators), with light random shifts of the training images."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.errors import PixelsmithError
from pixelsmith.training.objectives import Objective, register_objective


@dataclass
class ClassifyArgs:
    shift: int = 2  # random translation of each training image by up to this many pixels (0 = none)
    label_smoothing: float = 0.0

    def check(self) -> None:
        if self.shift < 0:
            raise PixelsmithError(f"objective_args.shift={self.shift} must be >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise PixelsmithError(f"objective_args.label_smoothing={self.label_smoothing} must be in [0, 1)")


def random_shift(images: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image translated by up to ``shift`` pixels (zero padding, as MNIST's background is black)."""
    if shift == 0:
        return images
    n, _, h, w = images.shape
    padded = F.pad(images, (shift,) * 4)
    dx, dy = (torch.randint(0, 2 * shift + 1, (2, n), generator=generator)).tolist()
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


@register_objective("classify")
class ClassifyObjective(Objective):
    """Cross-entropy on (image, label) batches; the previews report the accuracy on the held-out split."""

    families = ("classify",)
    datasets = ("mnist", "fashion-mnist", "folder")
    Args = ClassifyArgs
    example_args = {"shift": 1}
    example_model = "classifier"

    def __init__(self, cfg, model, wrap):
        super().__init__(cfg, model, wrap)
        self.net = wrap(model)
        self.optimizers["model"] = self.adam(model.parameters())

    def model_card(self) -> dict:
        return {"classifies": self.cfg.data}

    def step(self, batch, generator: torch.Generator) -> dict[str, float]:
        images, labels = batch[0], batch[1]
        images = random_shift(images, self.args.shift, generator)
        with self.autocast():
            logits = self.net(images).float()
        loss = F.cross_entropy(logits, labels, label_smoothing=self.args.label_smoothing)
        self.update("model", loss, self.model.parameters())
        return {"loss": loss.item(), "accuracy": (logits.argmax(1) == labels).float().mean().item()}

    def held_out(self, build_held_out, device):
        data = build_held_out()
        images, labels = zip(*(data[k] for k in range(len(data))))
        return torch.stack(images).to(device), torch.as_tensor(labels).to(device)

    @torch.no_grad()
    def preview(self, model: nn.Module, held_out) -> tuple[torch.Tensor, int, dict[str, float]]:
        """The first 64 held-out images, and the accuracy on the whole held-out split."""
        images, labels = held_out
        with self.autocast():
            predicted = torch.cat([model(chunk).argmax(1) for chunk in images.split(1000)])
        return images[:64], 8, {"val_accuracy": (predicted == labels).float().mean().item()}
