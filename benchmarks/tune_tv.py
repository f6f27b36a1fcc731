"""Choose the weight of the TV denoising baseline (`pixelsmith.baselines.tv_denoise`: weight = factor * sigma)
on training data, never on a benchmark set: 40 train400 images, centre 128x128 crops, Gaussian noise at
sigma 15/25/50 (float protocol). Prints the mean PSNR of each factor.

    python benchmarks/tune_tv.py [--data DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from skimage.restoration import denoise_tv_chambolle

from pixelsmith.degradations import add_gaussian_noise
from pixelsmith.io import read_image
from pixelsmith.metrics import psnr
from pixelsmith.probe import find_images

FACTORS = (0.5, 0.7, 0.9, 1.1, 1.3, 1.6, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    args = parser.parse_args()
    crops = [read_image(f).pixels[..., 26:154, 26:154] for f in find_images(Path(args.data) / "train400")[::10]]
    print(f"{'sigma':>5} " + " ".join(f"{f:>7}" for f in FACTORS))
    for sigma in (15, 25, 50):
        g = torch.Generator().manual_seed(sigma)
        noisy = [add_gaussian_noise(c, sigma, generator=g, clip=False) for c in crops]
        means = []
        for factor in FACTORS:
            scores = [psnr(torch.from_numpy(denoise_tv_chambolle(n[0].numpy(), weight=factor * sigma / 255.0))
                           .float()[None], c).item() for n, c in zip(noisy, crops)]
            means.append(float(np.mean(scores)))
        best = FACTORS[int(np.argmax(means))]
        print(f"{sigma:>5} " + " ".join(f"{m:7.2f}" for m in means) + f"   best {best}")


if __name__ == "__main__":
    main()
