"""ConvLSTM encoder-forecaster for next-frame prediction (Shi et al. 2015). Frames are folded into channels by
``patch`` x ``patch`` pixels first (as OpenSTL does), so the cells run at 1/patch of the resolution. The encoder
stack reads the input frames; the forecaster stack starts from the encoder's states and, one future step at a
time, reads the previous frame (the last input, then its own prediction, or the true frame when training with
scheduled sampling) and predicts the next one from all its layers' hidden states through a 1x1 convolution."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.errors import PixelsmithError, UsageError
from pixelsmith.nn.convlstm import ConvLSTMCell
from pixelsmith.precision import autocast
from pixelsmith.progress import Progress, report
from pixelsmith.registry import register_model


class ConvLSTMPredictor(nn.Module):
    """Frames (N, T, C, H, W) in [0, 1] in, the next ``frames_out`` (or ``steps``) frames out."""

    def __init__(self, channels: int = 1, size: int = 64, patch: int = 4, hidden: tuple[int, ...] = (64, 64),
                 kernel: int = 3, frames_in: int = 10, frames_out: int = 10) -> None:
        super().__init__()
        if size % patch:
            raise PixelsmithError(f"size={size} must be a multiple of patch={patch}")
        if not hidden or frames_in < 1 or frames_out < 1:
            raise PixelsmithError("hidden needs at least one layer; frames_in and frames_out at least 1")
        self.channels, self.size, self.patch = channels, size, patch
        self.frames_in, self.frames_out = frames_in, frames_out
        folded = channels * patch * patch
        sizes = [folded, *hidden]
        self.encoder = nn.ModuleList(ConvLSTMCell(a, b, kernel) for a, b in zip(sizes, hidden))
        self.forecaster = nn.ModuleList(ConvLSTMCell(a, b, kernel) for a, b in zip(sizes, hidden))
        self.head = nn.Conv2d(sum(hidden), folded, 1)

    def check(self, frames: torch.Tensor) -> None:
        if frames.ndim != 5 or frames.shape[2] != self.channels or frames.shape[3] % self.patch \
                or frames.shape[4] % self.patch:
            raise UsageError(f"frames of shape {tuple(frames.shape)}: this model predicts (N, T, {self.channels}, "
                             f"H, W) clips with H and W multiples of {self.patch}")

    def forward(self, frames: torch.Tensor, steps: int | None = None, truth: torch.Tensor | None = None,
                teacher: torch.Tensor | None = None, progress: Progress = None) -> torch.Tensor:
        """The next ``steps`` frames (N, steps, C, H, W) after ``frames``. ``truth`` (N, steps, C, H, W) and a
        boolean ``teacher`` (N, steps - 1): where true, future step t + 1 reads the true frame t instead of the
        prediction (scheduled sampling)."""
        self.check(frames)
        steps = steps or self.frames_out
        fold = lambda x: F.pixel_unshuffle(x, self.patch)  # noqa: E731
        states = None
        for t in range(frames.shape[1]):
            x = fold(frames[:, t])
            states = states or [cell.initial(x) for cell in self.encoder]
            for k, cell in enumerate(self.encoder):
                states[k] = cell(x, states[k])
                x = states[k][0]
        previous, out = fold(frames[:, -1]), []
        for t in range(steps):
            x = previous
            for k, cell in enumerate(self.forecaster):
                states[k] = cell(x, states[k])
                x = states[k][0]
            frame = self.head(torch.cat([h for h, _ in states], dim=1))
            out.append(frame)
            previous = frame
            if teacher is not None and t < steps - 1:
                use = teacher[:, t].view(-1, 1, 1, 1).to(frame.dtype)
                previous = use * fold(truth[:, t]).to(frame.dtype) + (1 - use) * frame
            report(progress, "frames", t + 1, steps)
        return F.pixel_shuffle(torch.stack(out, 1).flatten(0, 1), self.patch).view(
            frames.shape[0], steps, *frames.shape[2:])

    @torch.no_grad()
    def predict(self, frames: torch.Tensor, steps: int | None = None, progress: Progress = None,
                batch_size: int = 64) -> torch.Tensor:
        """Predicted frames in [0, 1] (bf16 where the processor has it), in batches of clips."""
        device = next(self.parameters()).device
        outs = []
        with autocast(True, device.type):
            for chunk in frames.split(batch_size):
                outs.append(self(chunk.to(device), steps, progress=progress).float().clamp(0, 1).cpu())
        return torch.cat(outs)


@register_model("convlstm", family="predict", example_args={"size": 16, "hidden": [8], "frames_in": 3,
                                                            "frames_out": 2})
def convlstm(channels: int = 1, size: int = 64, patch: int = 4, hidden: tuple[int, ...] = (64, 64), kernel: int = 3,
             frames_in: int = 10, frames_out: int = 10) -> ConvLSTMPredictor:
    """ConvLSTM encoder-forecaster next-frame predictor on patch-folded frames."""
    return ConvLSTMPredictor(channels, size, patch, tuple(hidden), kernel, frames_in, frames_out)
