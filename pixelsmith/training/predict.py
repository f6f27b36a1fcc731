"""The ``predict`` objective: next-frame prediction. Each clip of frames_in + frames_out frames is split; the model
reads the first part and predicts the rest, trained on the mean squared error (plus ``l1`` times the mean absolute
error). Scheduled sampling (Bengio et al. 2015): a future step reads the true previous frame instead of the
prediction with a probability that falls linearly from ``teacher_start`` to 0 over ``teacher_steps`` steps."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.errors import PixelsmithError
from pixelsmith.training.objectives import Objective, register_objective


@dataclass
class PredictArgs:
    l1: float = 0.0  # weight of the L1 term beside the MSE
    teacher_start: float = 0.0  # scheduled sampling: the probability of reading the true frame at step 0
    teacher_steps: int = 0  # ... falling linearly to 0 over this many steps

    def check(self) -> None:
        if self.l1 < 0 or not 0 <= self.teacher_start <= 1 or self.teacher_steps < 0:
            raise PixelsmithError(f"objective_args: l1={self.l1} must be >= 0, teacher_start={self.teacher_start} "
                                  f"in [0, 1], teacher_steps={self.teacher_steps} >= 0")


def frame_mse(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-frame MSE as OpenSTL reports it: the squared error summed over a frame's pixels (values in [0, 1]),
    averaged over frames and clips."""
    return (prediction.float() - truth.float()).pow(2).flatten(2).sum(2).mean()


@register_objective("predict")
class PredictObjective(Objective):
    """One prediction step per batch of clips; previews show held-out clips (truth row, prediction row) and
    report the held-out per-frame MSE."""

    families = ("predict",)
    datasets = ("moving-mnist", "clips")
    Args = PredictArgs
    example_args = {"l1": 0.1, "teacher_start": 1.0, "teacher_steps": 4}
    example_model = "convlstm"

    def __init__(self, cfg, model, wrap):
        super().__init__(cfg, model, wrap)
        if not hasattr(model, "frames_in"):
            raise PixelsmithError(f"objective=predict trains frame predictors; model={cfg.model} is not one")
        self.net = wrap(model)
        self.optimizers["model"] = self.adam(model.parameters())

    def check_data(self, dataset) -> None:
        super().check_data(dataset)
        clip = dataset[0][0]
        need = self.model.frames_in + self.model.frames_out
        if clip.shape[0] < need or clip.shape[1] != self.model.channels:
            raise PixelsmithError(f"the data's clips are {clip.shape[0]} frames of {clip.shape[1]} channel(s); the "
                                  f"model reads {self.model.frames_in} and predicts {self.model.frames_out} frames of "
                                  f"{self.model.channels}: set data_args.frames={need} (and the channels to match)")

    def split(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.model
        return clips[:, :m.frames_in], clips[:, m.frames_in:m.frames_in + m.frames_out]

    def step(self, batch, generator: torch.Generator) -> dict[str, float]:
        inputs, truth = self.split(batch[0])
        teacher = None
        if self.args.teacher_steps and self.args.teacher_start > 0:
            step = self.optimizers["model"].state.get(next(iter(self.model.parameters())), {}).get("step", 0)
            p = self.args.teacher_start * max(0.0, 1 - float(step) / self.args.teacher_steps)
            if p > 0:
                teacher = torch.rand((len(inputs), truth.shape[1] - 1), generator=generator).to(inputs.device) < p
        with self.autocast():
            prediction = self.net(inputs, truth.shape[1], truth, teacher)
        prediction = prediction.float()
        mse = F.mse_loss(prediction, truth)
        loss = mse + self.args.l1 * F.l1_loss(prediction, truth) if self.args.l1 else mse
        self.update("model", loss, self.model.parameters())
        return {"loss": loss.item(), "frame_mse": mse.item() * truth[0, 0].numel()}

    def held_out(self, build_held_out, device):
        data = build_held_out()
        return torch.stack([data[k][0] for k in range(min(64, len(data)))]).to(device)

    @torch.no_grad()
    def preview(self, model: nn.Module, held_out) -> tuple[torch.Tensor, int, dict[str, float]]:
        inputs, truth = self.split(held_out)
        prediction = model.predict(inputs, truth.shape[1])
        rows = [r for k in range(4) for r in (truth[k], prediction[k].to(truth.device))]
        return torch.cat(rows), truth.shape[1], {"val_frame_mse": float(frame_mse(prediction.to(truth.device), truth))}
