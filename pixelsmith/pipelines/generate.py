"""Generation pipeline: sample a generative model with a seed, write PNG files and a grid."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from pixelsmith.errors import Cancelled, PixelsmithError, UsageError
from pixelsmith.io import write_image
from pixelsmith.models.generative import check_sample_options
from pixelsmith.progress import Progress, report


def load_generator(model: str | Path) -> nn.Module:
    """A generative model (bundled name, model folder or training run) from the model store."""
    from pixelsmith.pipelines.store import load_model

    net = load_model(model)
    if net.config.get("family") != "generate":
        raise UsageError(f"model={model} is a '{net.config.get('family')}' model; generating needs a generative model")
    return net


@torch.no_grad()
def generate(model: nn.Module | str | Path, n: int, seed: int = 0, batch_size: int = 256, progress: Progress = None,
             **options) -> torch.Tensor:
    """``n`` samples (N,C,H,W) in [0,1] from ``model`` (a generative model, or its name or folder); the same seed
    gives the same images. ``options`` are the model's sampling options (its ``sample_options``); a 'samples'
    event follows each batch."""
    if n < 1:
        raise UsageError(f"n={n}: the number of images must be at least 1")
    if not isinstance(model, nn.Module):
        model = load_generator(model)
    options = check_sample_options(model, options)
    generator = torch.Generator().manual_seed(seed)
    chunks = []
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        chunks.append(model.sample(size, generator=generator, progress=progress, **options).float().clamp(0, 1).cpu())
        report(progress, "samples", start + size, n)
    return torch.cat(chunks)


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """Tile (N,C,H,W) images into one (C,H',W') grid (torchvision's make_grid, square by default)."""
    from torchvision.utils import make_grid as tv_make_grid

    nrow = nrow or max(1, int(round(images.shape[0] ** 0.5)))
    grid = tv_make_grid(images, nrow=nrow, padding=padding, pad_value=1.0)
    return grid[:1] if images.shape[1] == 1 else grid


def save_samples(images: torch.Tensor, out_dir: str | Path, grid: str | Path | None = None,
                 overwrite: bool = False, progress: Progress = None) -> list[Path]:
    """Write images as ``out_dir/000000.png``... and optionally a grid; refuses to overwrite unless asked. A
    'files' event follows each file; when stopped (Cancelled or Ctrl-C) the files written are whole, and the
    Cancelled raised says how many."""
    out_dir = Path(out_dir)
    paths = [out_dir / f"{i:06d}.png" for i in range(images.shape[0])]
    clash = [p for p in paths + ([Path(grid)] if grid else []) if p.exists()]
    if clash and not overwrite:
        raise PixelsmithError(f"{clash[0]} exists ({len(clash)} file(s) would be replaced); pass overwrite=True")
    total, written = len(paths) + bool(grid), 0
    try:
        for path, image in zip(paths, images):
            write_image(path, image)
            written += 1
            report(progress, "files", written, total)
        if grid:
            write_image(grid, make_grid(images))
    except (Cancelled, KeyboardInterrupt):
        raise Cancelled("interrupted while writing", written, total) from None
    return paths
