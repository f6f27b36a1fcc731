"""``pixelsmith demo``: every restoration task on bundled sample photos (scikit-image's camera and astronaut),
and a grid of generated digits, with nothing to download."""

from __future__ import annotations

from pathlib import Path

import torch

from pixelsmith import degradations as D
from pixelsmith.io import write_image
from pixelsmith.metrics import psnr
from pixelsmith.pipelines.deblur import deblur
from pixelsmith.pipelines.denoise import denoise
from pixelsmith.pipelines.generate import generate, make_grid
from pixelsmith.pipelines.inpaint import inpaint
from pixelsmith.pipelines.jpeg import remove_jpeg_artifacts
from pixelsmith.pipelines.sr import super_resolve
from pixelsmith.progress import Progress, report


def run_demo(out: str | Path = "pixelsmith-demo", seed: int = 0, progress: Progress = None
             ) -> dict[str, tuple[float, float]]:
    """For each task write ``<task>_clean.png``, ``<task>_input.png`` and ``<task>_restored.png`` into ``out``,
    plus ``dcgan_mnist_grid.png``; returns {task: (input PSNR, restored PSNR)} against the clean image.
    A 'demo' event follows each case."""
    from skimage import data

    out = Path(out)
    g = torch.Generator().manual_seed(seed)
    camera = torch.from_numpy(data.camera()).float()[None] / 255.0
    astronaut = torch.from_numpy(data.astronaut()).float().permute(2, 0, 1) / 255.0
    kernel = D.motion_kernel(15, 30)
    holes = D.stroke_mask(512, 512, g, strokes=4)
    cases = {  # task: (clean, degraded input, restore function)
        "denoise": (camera, D.add_gaussian_noise(camera, 25, g, clip=True, quantize=True), denoise),
        "denoise_color": (astronaut, D.add_gaussian_noise(astronaut, 25, g, clip=True, quantize=True), denoise),
        "jpeg": (astronaut, D.jpeg_compress(astronaut, 10), lambda x: remove_jpeg_artifacts(x, 10)),
        "inpaint": (astronaut, astronaut * (1 - holes), lambda x: inpaint(x, holes)),
        "deblur": (camera, D.add_gaussian_noise(D.blur(camera, kernel, "reflect"), 2, g, clip=True, quantize=True),
                   lambda x: deblur(x, kernel, sigma=2)),
        "sr_x4": (astronaut, D.bicubic_downscale(astronaut, 4).clamp(0, 1), lambda x: super_resolve(x, 4)),
    }
    scores = {}
    for done, (task, (clean, degraded, restore)) in enumerate(cases.items(), 1):
        restored = restore(degraded)
        shown = D.bicubic_upscale(degraded, 4) if task == "sr_x4" else degraded  # bicubic, for comparison
        write_image(out / f"{task}_clean.png", clean)
        write_image(out / f"{task}_input.png", degraded)
        write_image(out / f"{task}_restored.png", restored)
        scores[task] = (psnr(shown, clean).item(), psnr(restored, clean).item())
        report(progress, "demo", done, len(cases) + 1, restored)
    digits = generate("dcgan-mnist", 64, seed=seed)
    write_image(out / "dcgan_mnist_grid.png", make_grid(digits, nrow=8))
    report(progress, "demo", len(cases) + 1, len(cases) + 1)
    return scores
