"""Make test inputs: apply degradations to a file or a folder, seeded per file, in the order a camera and a
web pipeline would: blur, bicubic downscaling, noise, JPEG compression, then missing pixels."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from pixelsmith import degradations as D
from pixelsmith.errors import UsageError
from pixelsmith.io import ImageData
from pixelsmith.pipelines.files import FilesResult, process_files
from pixelsmith.progress import Progress


@dataclass
class DegradeOptions:
    """Which degradations to apply; None skips one."""

    noise: float | None = None  # Gaussian std on 0-255
    poisson: float | None = None  # photons at white level (Poisson-Gaussian with `noise` as read noise)
    blur: str | None = None  # gaussian:SIGMA or motion:LENGTH:ANGLE or a kernel image
    downscale: int | None = None  # bicubic, 2/3/4
    jpeg: int | None = None  # quality
    mask: str | None = None  # strokes, box, pixels, text: written as transparent pixels (RGBA)
    seed: int = 0


def check_degrade_options(opts: DegradeOptions) -> None:
    """One usage error for the first option out of range."""
    if opts.noise is not None and not 0 <= opts.noise <= 255:
        raise UsageError(f"noise={opts.noise} is out of range; accepted: 0 to 255 (std on the 0-255 scale)")
    if opts.poisson is not None and opts.poisson <= 0:
        raise UsageError(f"poisson={opts.poisson} must be positive (photons at white level, e.g. 30)")
    if opts.downscale is not None and opts.downscale not in (2, 3, 4):
        raise UsageError(f"downscale={opts.downscale} is not supported; accepted: 2, 3, 4")
    if opts.jpeg is not None and not 1 <= opts.jpeg <= 100:
        raise UsageError(f"jpeg={opts.jpeg} is out of range; accepted: 1 to 100")
    if opts.mask is not None and opts.mask not in D.MASKS:
        raise UsageError(f"mask={opts.mask} is not known; accepted: {', '.join(D.MASKS)}")
    if opts.blur:
        D.parse_kernel(opts.blur, "blur")
    if all(v is None for k, v in vars(opts).items() if k != "seed"):
        raise UsageError("nothing to do: give at least one of noise=STD, poisson=PHOTONS, blur=KERNEL, downscale=S, "
                         "jpeg=Q, mask=KIND")


def degrade_image(image: ImageData, opts: DegradeOptions) -> ImageData:
    """The degraded copy of one image; randomness is seeded by (seed, file name), so the same file gets the same
    degradation wherever its folder lies, and the files of a folder get different ones."""
    g = torch.Generator().manual_seed(opts.seed * 1_000_003 + zlib.crc32(Path(image.path).name.encode()))
    x, alpha = image.pixels, image.alpha
    if opts.blur:
        x = D.blur(x, D.parse_kernel(opts.blur, "blur"), mode="reflect")
    if opts.downscale:
        x = D.bicubic_downscale(x, opts.downscale).clamp(0, 1)
        alpha = D.bicubic_downscale(alpha, opts.downscale).clamp(0, 1) if alpha is not None else None
    if opts.poisson:
        x = D.add_poisson_gaussian_noise(x, opts.poisson, opts.noise or 0.0, g)
    elif opts.noise is not None:
        x = D.add_gaussian_noise(x, opts.noise, g, clip=True)
    if opts.jpeg:
        x = D.jpeg_compress(x, opts.jpeg)
    if opts.mask:
        hole = D.random_mask(*x.shape[-2:], g, kinds=(opts.mask,))
        alpha = (alpha if alpha is not None else torch.ones_like(hole)) * (1 - hole)
    return replace(image, pixels=x.clamp(0, 1), alpha=alpha)


def degrade_files(source: str | Path, target: str | Path, opts: DegradeOptions, fmt: str = "png",
                  overwrite: bool = False, shard: tuple[int, int] = (0, 1), progress: Progress = None) -> FilesResult:
    """Write degraded copies of a file or folder (clipped to the valid range and quantised as files are;
    with jpeg=Q, write .png to keep the JPEG's exact pixels or .jpg to re-encode at that quality)."""
    check_degrade_options(opts)
    quality = 95
    suffix = Path(target).suffix.lower() if not Path(source).is_dir() else f".{fmt.lower()}"
    if opts.jpeg and suffix in (".jpg", ".jpeg"):  # write a real JPEG file of that quality
        opts, quality = replace(opts, jpeg=None), opts.jpeg
    return process_files(source, target, lambda image, _: degrade_image(image, opts), fmt, overwrite,
                         quality=quality, shard=shard, progress=progress)
