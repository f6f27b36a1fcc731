"""Run image-to-image functions and models on images of any size in overlapping, blended tiles."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn

from pixelsmith.errors import PixelsmithError, UsageError
from pixelsmith.nn import channels_last, dihedral, pad_to_multiple
from pixelsmith.precision import autocast
from pixelsmith.progress import Progress, report

# Self-ensembles: which of the 8 flips/rotations of the square (nn.dihedral) a model is averaged over, each undone.
# FLIPS keep the image's shape (identity, 180-degree rotation, horizontal and vertical flip); what each set gains
# per task is measured in docs/tasks.md.
ONE, FLIPS, ROTATIONS, ALL = (0,), (0, 2, 4, 6), (0, 1, 2, 3), tuple(range(8))


def _window(size: int, overlap: int, margin: int, blend_start: bool, blend_end: bool) -> torch.Tensor:
    """1-D tile weights. At an edge shared with another tile, the outer ``margin`` pixels get weight 0 (they saw
    the tile's padding, not the image) and the rest of the overlap ramps up linearly; an edge on the image border
    keeps weight 1."""
    w = torch.ones(size)
    ramp = torch.linspace(0, 1, overlap - 2 * margin + 2)[1:-1]
    if blend_start:
        w[:margin] = 0
        w[margin:margin + len(ramp)] = ramp
    if blend_end:
        w[size - margin:] = 0
        w[size - margin - len(ramp):size - margin] = ramp.flip(0)
    return w


ALIGN = 16  # tile sides are rounded up to this: oneDNN convolutions run 2-3x slower on odd sizes


def _layout(length: int, tile: int, overlap: int, multiple: int) -> tuple[int, list[int]]:
    """Tile size and starts along one side: the fewest tiles of at most ``tile`` that overlap by at least
    ``overlap``, all of one size (a multiple of ALIGN and ``multiple``) and evenly spread, so no tile is mostly
    overlap; starts are multiples of ``multiple`` when the side is one."""
    if length <= tile:
        return length, [0]
    step = multiple if length % multiple == 0 else 1
    align = math.lcm(multiple, ALIGN) if 4 * math.lcm(multiple, ALIGN) <= tile else multiple
    for count in range(2, length + 1):
        size = -(-math.ceil((length + (count - 1) * overlap) / count) // align) * align
        while size <= tile:
            size = min(size, length)
            starts = sorted({int(i * (length - size) / (count - 1)) // step * step for i in range(count - 1)}
                            | {length - size})
            if all(b - a <= size - overlap for a, b in zip(starts, starts[1:])):
                return size, starts
            size += align
    raise AssertionError(f"no tiling of {length} by {tile} with overlap {overlap}")


@torch.no_grad()
def run_tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int = 512, overlap: int = 64,
              scale: int = 1, out_channels: int | None = None, margin: int | None = None, multiple: int = 1,
              progress: Progress = None) -> torch.Tensor:
    """Apply ``fn`` (N,C,h,w) -> (N,C',h*scale,w*scale) to ``x`` in overlapping tiles of at most ``tile`` pixels
    blended with linear ramps, so memory stays bounded whatever the image size; an image no larger than one tile
    runs whole. Tiles are of one size, a multiple of ``multiple`` (a model's size multiple) when the image is.
    A 'tiles' event follows each tile of a tiled image. The result equals the untiled one exactly when fn's
    receptive-field radius is at most ``margin`` (default overlap // 4), the part of each overlap left out."""
    margin = overlap // 4 if margin is None else margin
    if overlap * 2 >= tile:
        raise UsageError(f"overlap={overlap} must be less than half of tile={tile}")
    if not 0 <= margin < overlap / 2:
        raise UsageError(f"margin={margin} must be at least 0 and less than half of overlap={overlap}")
    n, c, h, w = x.shape
    if h <= tile and w <= tile:
        return fn(x)
    s = scale
    out = torch.zeros(n, out_channels or c, h * s, w * s)
    weight = torch.zeros(1, 1, h * s, w * s)
    (th, tops), (tw, lefts) = (_layout(side, tile, overlap, multiple) for side in (h, w))
    tiles = [(top, left) for top in tops for left in lefts]
    for done, (top, left) in enumerate(tiles, 1):
        patch = fn(x[..., top:top + th, left:left + tw])
        wy = _window(th * s, overlap * s, margin * s, top > 0, top + th < h)
        wx = _window(tw * s, overlap * s, margin * s, left > 0, left + tw < w)
        mask = wy[:, None] * wx[None, :]
        out[..., top * s:(top + th) * s, left * s:(left + tw) * s] += patch.float() * mask
        weight[..., top * s:(top + th) * s, left * s:(left + tw) * s] += mask
        report(progress, "tiles", done, len(tiles))
    return out / weight


def view_average(once: Callable[[torch.Tensor], torch.Tensor], views: tuple[int, ...]):
    """``once`` (N,C,h,w) -> (N,C',h',w') averaged over the dihedral ``views`` of its input, each undone."""
    return lambda t: sum(dihedral(once(dihedral(t, i)), i, inverse=True) for i in views) / len(views)


def model_channels(model: nn.Module) -> int:
    """Image channels a restoration model works on."""
    return model.config["args"].get("channels", 1)


def apply_model(model: nn.Module, x: torch.Tensor, cond: torch.Tensor | None = None, bf16: bool = True,
                tile: int = 1024, overlap: int = 32, views: tuple[int, ...] = ONE, pad: str = "reflect",
                progress: Progress = None) -> torch.Tensor:
    """Run a restoration model on (C,H,W) ``x`` with an optional (K,H,W) conditioning map, tiled.

    A gray model runs on each colour channel in turn (with that channel's map when the map has one channel
    per image channel); a colour model given a gray image sees it repeated in 3 channels and returns their
    mean. ``views`` (indices 0-7 of nn.dihedral, e.g. FLIPS) averages the model over those flips/rotations.
    ``pad`` is how the image is first padded at the bottom and right to the model's size multiple
    (nn.pad_to_multiple: "reflect" or "replicate"). Tiles of 1024 overlapping by 32 differ from the untiled
    result as little as tiles of 768 by 64 did, with a third of their overlap (docs/speed.md)."""
    if not isinstance(views, (tuple, list)) or not views or not set(views) <= set(ALL):
        raise UsageError(f"views={views}; accepted: a non-empty tuple of nn.dihedral indices 0-7, e.g. {FLIPS}")
    expected, channels = model_channels(model), x.shape[0]
    k = model.config["args"].get("cond_channels", 0)
    if cond is None and k:
        raise PixelsmithError(f"this model needs a {k}-channel conditioning map")
    if expected == channels:
        jobs = [(x, cond)]
    elif expected == 1:
        per_channel = cond is not None and cond.shape[0] == channels and k == 1
        jobs = [(x[i:i + 1], cond[i:i + 1] if per_channel else cond) for i in range(channels)]
    elif channels == 1:
        jobs = [(x.expand(expected, -1, -1), cond)]
    else:
        raise PixelsmithError(f"model expects {expected} channels, the image has {channels}")

    def once(t: torch.Tensor) -> torch.Tensor:
        image, condition = t[:, :expected], t[:, expected:]
        with autocast(bf16):
            image = channels_last(image)
            if k:
                return model(image, channels_last(condition.to(image.dtype))).float()
            return model(image).float()

    fn = view_average(once, views)
    outputs = []
    for image, condition in jobs:
        if k and condition.shape[0] != k:
            condition = condition.mean(0, keepdim=True).expand(k, -1, -1)
        joined = image[None] if not k else torch.cat([image, condition.to(image.dtype)])[None]
        # Pad the whole image as the model pads its input, so edge tiles see what the untiled model sees.
        joined, (h, w) = pad_to_multiple(joined, getattr(model, "multiple", 1), pad)
        outputs.append(run_tiled(fn, joined, tile, overlap, out_channels=expected,
                                 multiple=getattr(model, "multiple", 1), progress=progress)[0, :, :h, :w])
    out = torch.cat(outputs)
    if expected > 1 and channels == 1:
        out = out.mean(0, keepdim=True)
    return out.clamp(0, 1)
