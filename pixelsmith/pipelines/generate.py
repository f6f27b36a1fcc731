"""Generation pipeline: sample a generative model with a seed, write PNG files and a grid."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.hub import from_pretrained, read_config
from pixelsmith.io import write_image


def load_generator(model: str) -> nn.Module:
    """A generative model (bundled name, model folder or training run)."""
    config = read_config(model)
    if config.get("task") != "generate":
        raise UsageError(f"model '{model}' is a '{config.get('task')}' model; generate needs a generative model")
    return from_pretrained(model)


@torch.no_grad()
def generate(model: nn.Module | str, n: int, seed: int = 0, batch_size: int = 256) -> torch.Tensor:
    """``n`` samples (N,C,H,W) in [0,1]; the same seed gives the same images."""
    if n < 1:
        raise UsageError(f"-n {n}: the number of images must be at least 1")
    if isinstance(model, str):
        model = load_generator(model)
    generator = torch.Generator().manual_seed(seed)
    chunks = [model.sample(min(batch_size, n - i), generator=generator) for i in range(0, n, batch_size)]
    return torch.cat(chunks).float().clamp(0, 1).cpu()


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """Tile (N,C,H,W) images into one (C,H',W') grid (torchvision's make_grid, square by default)."""
    from torchvision.utils import make_grid as tv_make_grid

    nrow = nrow or max(1, int(round(images.shape[0] ** 0.5)))
    grid = tv_make_grid(images, nrow=nrow, padding=padding, pad_value=1.0)
    return grid[:1] if images.shape[1] == 1 else grid


def save_samples(images: torch.Tensor, out_dir: str | Path, grid: str | Path | None = None,
                 overwrite: bool = False) -> list[Path]:
    """Write images as ``out_dir/000000.png``... and optionally a grid; refuses to overwrite unless asked."""
    out_dir = Path(out_dir)
    paths = [out_dir / f"{i:06d}.png" for i in range(images.shape[0])]
    clash = [p for p in paths + ([Path(grid)] if grid else []) if p.exists()]
    if clash and not overwrite:
        raise PixelsmithError(f"{clash[0]} exists ({len(clash)} file(s) would be replaced); pass --overwrite")
    for path, image in zip(paths, images):
        write_image(path, image)
    if grid:
        write_image(grid, make_grid(images))
    return paths
