"""Whether plug-and-play (`pixelsmith.pnp.hqs`) should end with one more data step (``finish``), measured on
training data, never on a benchmark set: 12 bsd200 images, centre crops, super-resolution x2 and x4 (bicubic)
and deblurring (Gaussian 1.6 and motion 15 at 30 degrees, noise 2.55), gray (luma). Prints the mean PSNR of
each choice and the mean error on a flat image (levels on 0-255).

    python benchmarks/tune_pnp_finish.py [--data DIR] [--size 64]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from pixelsmith.degradations import add_gaussian_noise, bicubic_downscale, blur, parse_kernel
from pixelsmith.io import read_image
from pixelsmith.metrics import psnr
from pixelsmith.pipelines.deblur import DEBLUR_ITERATIONS, DEBLUR_LAM
from pixelsmith.pipelines.denoise import denoise_with
from pixelsmith.pipelines.methods import load_restorer
from pixelsmith.pipelines.sr import SR_ITERATIONS
from pixelsmith.pnp import hqs
from pixelsmith.probe import find_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    parser.add_argument("--size", type=int, default=96, help="crop side of the clean image")
    args = parser.parse_args()
    net = load_restorer("denoise")

    def denoiser(t: torch.Tensor, sigma: float) -> torch.Tensor:
        return torch.stack([denoise_with(net, image, sigma, True) for image in t])

    s = args.size
    crops = []
    for f in find_images(Path(args.data) / "bsd200")[::16]:
        image = read_image(f, channels=1).pixels
        top, left = (image.shape[1] - s) // 2, (image.shape[2] - s) // 2
        crops.append(image[:, top:top + s, left:left + s])
    flat = torch.full((1, s, s), 200 / 255)
    settings = [(f"sr x{k}", dict(scale=k, iterations=SR_ITERATIONS), lambda c, k=k: bicubic_downscale(c, k))
                for k in (2, 4)]
    for spec in ("gaussian:1.6", "motion:15:30"):
        kernel = parse_kernel(spec)
        g = torch.Generator().manual_seed(0)
        settings.append((f"deblur {spec}", dict(kernel=kernel, noise=2.55, iterations=DEBLUR_ITERATIONS, lam=DEBLUR_LAM),
                         lambda c, kernel=kernel, g=g: add_gaussian_noise(blur(c, kernel, "reflect"), 2.55, generator=g, clip=True, quantize=True)))
    print(f"{'setting':<22} {'finish':>6} {'PSNR':>7} {'flat error':>10}")
    for name, kwargs, degrade in settings:
        observed = [degrade(c) for c in crops]
        for finish in (False, True):
            scores = [psnr(hqs(y[None], denoiser, finish=finish, **kwargs)[0], c).item()
                      for y, c in zip(observed, crops)]
            flat_out = hqs(degrade(flat)[None], denoiser, finish=finish, **kwargs)[0]
            error = float((flat_out - flat).mean() * 255)
            print(f"{name:<22} {str(finish):>6} {np.mean(scores):7.2f} {error:10.2f}", flush=True)


if __name__ == "__main__":
    main()
