"""Restoration pipeline: pick a model or classical method, run it tiled on images of any size,
and process files or whole folders without overwriting or half-writing anything."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.hub import from_pretrained, read_config
from pixelsmith.io import DEFAULT_MAX_PIXELS, EXTENSIONS, ImageData, find_images, read_image, write_image_data
from pixelsmith.nn import dihedral

TASKS = ("denoise",)
DEFAULT_MODELS = {"denoise": "resunet-train400-gray"}
_CACHE: dict[str, nn.Module] = {}
# Self-ensemble: identity, 180-degree rotation, horizontal and vertical flip (the flips that keep the shape).
# On set12 at sigma 25 four give +0.10 dB for 4x the time; all eight give +0.12 dB for 8x.
ENSEMBLE = (0, 2, 4, 6)


def load_restorer(task: str, model: str | None = None) -> nn.Module:
    """The model for ``task``: ``model`` (bundled name or folder) or the bundled default; cached."""
    if task not in DEFAULT_MODELS:
        raise UsageError(f"unknown task '{task}'; accepted: {', '.join(TASKS)}")
    name = str(model or DEFAULT_MODELS[task])
    if name not in _CACHE:
        config = read_config(name)
        if config.get("task") != task:
            raise UsageError(f"model '{name}' is a '{config.get('task')}' model, not a '{task}' model")
        _CACHE[name] = from_pretrained(name)
    return _CACHE[name]


def _window(size: int, overlap: int, blend_start: bool, blend_end: bool) -> torch.Tensor:
    """1-D tile weights. At an edge shared with another tile, the outer quarter of the overlap gets weight 0
    (those pixels saw the tile's padding, not the image) and the middle half ramps up linearly; an edge
    on the image border keeps weight 1."""
    w = torch.ones(size)
    zero = overlap // 4
    ramp = torch.linspace(0, 1, overlap - 2 * zero + 2)[1:-1]
    if blend_start:
        w[:zero] = 0
        w[zero:zero + len(ramp)] = ramp
    if blend_end:
        w[size - zero:] = 0
        w[size - zero - len(ramp):size - zero] = ramp.flip(0)
    return w


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(starts))


@torch.no_grad()
def run_tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int = 512, overlap: int = 64
              ) -> torch.Tensor:
    """Apply ``fn`` (N,C,h,w) -> (N,C,h,w) to ``x`` in overlapping tiles blended with linear ramps,
    so memory stays bounded whatever the image size; an image no larger than one tile runs whole.
    The result equals the untiled one exactly when fn's receptive-field radius is at most overlap // 4."""
    if overlap * 2 >= tile:
        raise UsageError(f"overlap={overlap} must be less than half of tile={tile}")
    n, c, h, w = x.shape
    if h <= tile and w <= tile:
        return fn(x)
    out = torch.zeros_like(x)
    weight = torch.zeros(1, 1, h, w)
    for top in _starts(h, tile, overlap):
        for left in _starts(w, tile, overlap):
            th, tw = min(tile, h), min(tile, w)
            patch = fn(x[..., top:top + th, left:left + tw])
            wy = _window(th, overlap, top > 0, top + th < h)
            wx = _window(tw, overlap, left > 0, left + tw < w)
            mask = wy[:, None] * wx[None, :]
            out[..., top:top + th, left:left + tw] += patch.float() * mask
            weight[..., top:top + th, left:left + tw] += mask
    return out / weight


def apply_model(model: nn.Module, x: torch.Tensor, bf16: bool = True, tile: int = 512, overlap: int = 64,
                ensemble: bool = False) -> torch.Tensor:
    """Run an image-to-image model on (C,H,W) ``x``; a gray model runs on each colour channel in turn.
    ``ensemble`` averages the model over 4 flips of the input (4x slower, about +0.1 dB on set12)."""
    expected = model.config["args"].get("channels", 1)
    channels = x.shape[0]
    if channels != expected and expected != 1:
        raise PixelsmithError(f"model expects {expected} channels, the image has {channels}")
    batch = x[:, None] if expected == 1 else x[None]  # (C,1,H,W) for a gray model: channels as a batch
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()

    def once(t: torch.Tensor) -> torch.Tensor:
        with autocast:
            return model(t.contiguous(memory_format=torch.channels_last)).float()

    def fn(t: torch.Tensor) -> torch.Tensor:
        if not ensemble:
            return once(t)
        return sum(dihedral(once(dihedral(t, k)), k, inverse=True) for k in ENSEMBLE) / len(ENSEMBLE)

    out = torch.cat([run_tiled(fn, b[None], tile, overlap) for b in batch])
    return (out[:, 0] if expected == 1 else out[0]).clamp(0, 1)


def check_denoise_args(method: str, sigma: float | None) -> None:
    """A usage error for a noise level outside 0-255 or a method that is neither the model nor a baseline."""
    from pixelsmith.baselines import DENOISERS

    if sigma is not None and not 0 <= sigma <= 255:
        raise UsageError(f"sigma={sigma} is out of range; accepted: 0 to 255 (the noise std on the 0-255 scale)")
    if method != "model" and method not in DENOISERS:
        raise UsageError(f"unknown method '{method}' for denoise; accepted: model, {', '.join(DENOISERS)}")


def denoise(x: torch.Tensor, method: str = "model", sigma: float | None = None, model: str | None = None,
            bf16: bool = True, ensemble: bool = True) -> torch.Tensor:
    """Denoise a (C,H,W) image in [0,1]: the learned blind model, or a classical method (bm3d, nlm).
    The model averages its outputs over 4 flips by default (``ensemble``); ``ensemble=False`` is 4x faster
    and about 0.1 dB worse on set12."""
    check_denoise_args(method, sigma)
    if method == "model":
        return apply_model(load_restorer("denoise", model), x, bf16=bf16, ensemble=ensemble)
    from pixelsmith.baselines import classical_denoise

    return classical_denoise(method, x, sigma).clamp(0, 1)


@dataclass
class RestoreOptions:
    """What ``restore_files`` does to each image."""

    task: str = "denoise"
    method: str = "model"
    sigma: float | None = None
    model: str | None = None
    format: str = "png"
    overwrite: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    bf16: bool = True
    ensemble: bool = True


def check_options(opts: RestoreOptions) -> None:
    """Fail once, before any file is read, on options that no image could satisfy."""
    check_denoise_args(opts.method, opts.sigma)
    if opts.method == "model":
        load_restorer(opts.task, opts.model)


def restore_image(image: ImageData, opts: RestoreOptions) -> torch.Tensor:
    """The restored pixels of one image."""
    if opts.task == "denoise":
        return denoise(image.pixels, opts.method, opts.sigma, opts.model, opts.bf16, opts.ensemble)
    raise UsageError(f"unknown task '{opts.task}'; accepted: {', '.join(TASKS)}")


def plan_outputs(source: Path, target: Path, fmt: str) -> list[tuple[Path, Path]]:
    """(input, output) pairs: a file maps to ``target``; a folder's files keep their relative path and stem."""
    if f".{fmt.lower()}" not in EXTENSIONS:
        raise UsageError(f"--format {fmt} is not accepted; use one of {', '.join(e[1:] for e in EXTENSIONS)}")
    if source.is_dir():
        if target.exists() and not target.is_dir():
            raise UsageError(f"{source} is a folder, so -o must be a folder, but {target} is a file")
        pairs = [(f, (target / f.relative_to(source)).with_suffix(f".{fmt}")) for f in find_images(source)]
        seen: dict[Path, Path] = {}
        for src, dst in pairs:
            if dst in seen:
                raise UsageError(f"{seen[dst].name} and {src.name} would both be written to {dst}; "
                                 f"rename one or restore them separately")
            seen[dst] = src
        return pairs
    if not source.exists():
        raise PixelsmithError(f"{source}: no such file or folder")
    if target.is_dir():
        return [(source, target / f"{source.stem}.{fmt}")]
    if target.suffix.lower() not in EXTENSIONS:
        raise UsageError(f"{target}: unknown output format; accepted suffixes: {', '.join(EXTENSIONS)}")
    return [(source, target)]


def process_files(source: str | Path, target: str | Path, transform: Callable[[ImageData], torch.Tensor],
                  fmt: str = "png", overwrite: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS,
                  progress: bool = True, desc: str = "restore") -> tuple[list[Path], list[str]]:
    """Apply ``transform`` to a file or every image of a folder; returns written paths and per-file errors.
    Existing outputs are skipped unless ``overwrite``; one bad file does not stop the others."""
    source, target = Path(source), Path(target)
    pairs = plan_outputs(source, target, fmt)
    if not source.is_dir() and pairs[0][1].exists() and not overwrite:
        raise PixelsmithError(f"{pairs[0][1]} exists; pass --overwrite to replace it")
    written, errors, skipped = [], [], 0
    iterator = pairs
    if progress and len(pairs) > 1:
        from tqdm import tqdm

        iterator = tqdm(pairs, desc=desc, unit="img", file=sys.stderr)
    for src, dst in iterator:
        if dst.exists() and not overwrite:
            skipped += 1
            continue
        try:
            image = read_image(src, max_pixels=max_pixels)
            written.append(write_image_data(dst, image, transform(image)))
        except (PixelsmithError, OSError) as exc:
            if not source.is_dir() or isinstance(exc, UsageError):
                raise
            errors.append(str(exc) if isinstance(exc, PixelsmithError) else f"{src}: {exc}")
    if skipped:
        print(f"skipped {skipped} existing output(s); pass --overwrite to replace them", file=sys.stderr)
    return written, errors


def restore_files(source: str | Path, target: str | Path, opts: RestoreOptions, progress: bool = True
                  ) -> tuple[list[Path], list[str]]:
    """Restore a file or a folder of images into ``target``."""
    if opts.task not in TASKS:
        raise UsageError(f"unknown task '{opts.task}'; accepted: {', '.join(TASKS)}")
    check_options(opts)
    return process_files(source, target, lambda im: restore_image(im, opts), opts.format, opts.overwrite,
                         opts.max_pixels, progress, desc=opts.task)
