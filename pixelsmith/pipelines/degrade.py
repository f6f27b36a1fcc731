"""Make test inputs: apply a degradation to a file or a folder, seeded per file."""

from __future__ import annotations

import zlib
from pathlib import Path

import torch

from pixelsmith import UsageError
from pixelsmith.degradations import add_gaussian_noise
from pixelsmith.io import ImageData
from pixelsmith.pipelines.restore import process_files


def noise_transform(sigma: float, seed: int):
    """A per-image transform adding Gaussian noise of std ``sigma`` (0-255), seeded by (seed, file path)."""
    if not 0 <= sigma <= 255:
        raise UsageError(f"--noise {sigma} is out of range; accepted: 0 to 255 (std on the 0-255 scale)")

    def transform(image: ImageData) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(str(Path(image.path)).encode()))
        return add_gaussian_noise(image.pixels, sigma, g, clip=True)

    return transform


def degrade_files(source: str | Path, target: str | Path, noise: float, seed: int = 0, fmt: str = "png",
                  overwrite: bool = False, progress: bool = True) -> tuple[list[Path], list[str]]:
    """Write noisy copies of a file or folder (clipped to the valid range and quantised as files are)."""
    return process_files(source, target, noise_transform(noise, seed), fmt, overwrite, progress=progress,
                         desc="degrade")
