"""Next-frame prediction: read a clip (GIF, folder of frames, .npy), predict the frames that follow with a
``predict`` model, and write them as numbered PNG files, an animated GIF and a strip (input, prediction and,
when known, the truth)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from pixelsmith.errors import Cancelled, PixelsmithError, UsageError
from pixelsmith.io import atomic_write, write_image
from pixelsmith.progress import Progress

GIF_MS = 100  # milliseconds per frame in prediction.gif


def load_predictor(model: str | Path) -> nn.Module:
    """A frame predictor (bundled name, model folder or training run) from the model store."""
    from pixelsmith.pipelines.store import load_model

    net = load_model(model)
    if net.config.get("family") != "predict":
        raise UsageError(f"model={model} is a '{net.config.get('family')}' model; predicting frames needs a "
                         f"'predict' model (for example convlstm-movingmnist)")
    return net


def predict_frames(model: nn.Module | str | Path, frames: torch.Tensor, steps: int | None = None,
                   progress: Progress = None) -> torch.Tensor:
    """The ``steps`` frames (T, C, H, W) after the first ``frames_in`` frames (the model's) of the clip
    ``frames`` (T, C, H, W) in [0, 1]; a shorter clip is an error."""
    if not isinstance(model, nn.Module):
        model = load_predictor(model)
    steps = model.frames_out if steps is None else steps
    if not 1 <= steps <= 100:
        raise UsageError(f"--frames {steps} is out of range; accepted: 1 to 100")
    need = model.frames_in
    if frames.ndim != 4 or len(frames) < need:
        raise UsageError(f"the clip has {len(frames)} frame(s); this model reads {need} frames, so give at least "
                         f"{need}")
    if frames.shape[1] != model.channels or frames.shape[2] % model.patch or frames.shape[3] % model.patch:
        raise UsageError(f"frames of {frames.shape[3]}x{frames.shape[2]} with {frames.shape[1]} channel(s); this "
                         f"model takes {model.channels} channel(s), sides multiples of {model.patch} "
                         f"(trained at {model.size}x{model.size})")
    return model.predict(frames[None, :need], steps, progress=progress)[0]


def strip(rows: list[torch.Tensor], padding: int = 2) -> torch.Tensor:
    """One image (C, H', W') with a row per clip (T, C, H, W), frames side by side, shorter rows padded white."""
    from pixelsmith.pipelines.generate import make_grid

    width = max(len(r) for r in rows)
    blank = torch.ones_like(rows[0][:1])
    cells = [torch.cat([r, blank.repeat(width - len(r), 1, 1, 1)]) for r in rows]
    return make_grid(torch.cat(cells), nrow=width, padding=padding)


def write_prediction(out_dir: str | Path, inputs: torch.Tensor, prediction: torch.Tensor,
                     truth: torch.Tensor | None = None, overwrite: bool = False) -> list[Path]:
    """``out_dir``/K.png for predicted frame K (numbered after the input frames), prediction.gif and strip.png
    (the input, the prediction, and the truth when given); refuses to replace files unless asked."""
    from pixelsmith.io import ImageData, to_pil

    out = Path(out_dir)
    first = len(inputs)
    frames = [out / f"{first + k}.png" for k in range(len(prediction))]
    extra = [out / "prediction.gif", out / "strip.png"]
    clash = [p for p in frames + extra if p.exists()]
    if clash and not overwrite:
        raise PixelsmithError(f"{clash[0]} exists ({len(clash)} file(s) would be replaced); pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    try:
        for path, frame in zip(frames, prediction):
            write_image(path, frame)
        pil = [to_pil(ImageData(f)).convert("L" if f.shape[0] == 1 else "RGB") for f in prediction]
        atomic_write(extra[0], lambda tmp: pil[0].save(tmp, format="GIF", save_all=True, append_images=pil[1:],
                                                       duration=GIF_MS, loop=0))
        rows = [inputs, prediction] + ([truth[:len(prediction)]] if truth is not None else [])
        write_image(extra[1], strip(rows))
    except (Cancelled, KeyboardInterrupt):
        raise Cancelled("interrupted while writing") from None
    return frames + extra


def predict_file(model: str | Path, source: str | Path, out_dir: str | Path, steps: int | None = None,
                 overwrite: bool = False, progress: Progress = None) -> list[Path]:
    """Read a clip, predict what follows its first ``frames_in`` frames and write it (see
    :func:`write_prediction`); frames of the clip beyond those are the truth shown in the strip."""
    from pixelsmith.data.clips import read_frames

    net = load_predictor(model)
    frames = read_frames(source, net.channels)
    prediction = predict_frames(net, frames, steps, progress)
    inputs, rest = frames[:net.frames_in], frames[net.frames_in:]
    return write_prediction(out_dir, inputs, prediction, rest if len(rest) else None, overwrite)
