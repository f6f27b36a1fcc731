"""``pixelsmith demo``: denoise a bundled sample photo and draw digits, with nothing to download."""

from __future__ import annotations

from pathlib import Path

import torch

from pixelsmith.degradations import add_gaussian_noise
from pixelsmith.io import write_image
from pixelsmith.metrics import psnr
from pixelsmith.pipelines.generate import generate, make_grid
from pixelsmith.pipelines.restore import denoise


def run_demo(out: str | Path = "pixelsmith-demo", sigma: float = 25.0, seed: int = 0) -> dict[str, float]:
    """Write clean/noisy/restored camera images and a grid of 64 generated digits into ``out``."""
    from skimage import data

    out = Path(out)
    clean = torch.from_numpy(data.camera()).float()[None] / 255.0
    noisy = add_gaussian_noise(clean, sigma, torch.Generator().manual_seed(seed), clip=True, quantize=True)
    restored = denoise(noisy)
    write_image(out / "camera_clean.png", clean)
    write_image(out / "camera_noisy.png", noisy)
    write_image(out / "camera_restored.png", restored)
    digits = generate("dcgan-mnist", 64, seed=seed)
    write_image(out / "dcgan_mnist_grid.png", make_grid(digits, nrow=8))
    return {"noisy_psnr": psnr(noisy, clean).item(), "restored_psnr": psnr(restored, clean).item()}
