"""Restoration of images and files: the options of one run, checked once before any file is read, applied
to one image (with its alpha and mask) or to every file of a folder through :mod:`pixelsmith.pipelines.files`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from pixelsmith.degradations import parse_kernel
from pixelsmith.errors import PixelsmithError, UsageError
from pixelsmith.io import ImageData, read_image
from pixelsmith.jpeg import file_chroma_halved, file_luma_table, jpeg_quality
from pixelsmith.pipelines.deblur import check_kernel_fits, deblur
from pixelsmith.pipelines.denoise import check_colour, denoise
from pixelsmith.pipelines.files import FilesResult, process_files
from pixelsmith.pipelines.inpaint import inpaint
from pixelsmith.pipelines.jpeg import remove_jpeg_artifacts
from pixelsmith.pipelines.methods import (check_iterations, check_method, check_quality, check_scale, check_sigma,
                                          load_restorer)
from pixelsmith.pipelines.sr import super_resolve
from pixelsmith.probe import DEFAULT_MAX_PIXELS, check_max_pixels
from pixelsmith.progress import Progress


MIN_SIDE = 32  # images with a shorter side are edge-replicated to it for every task, then cropped back
# Larger outputs get one pass of the model by default instead of the self-ensemble, which costs 2-8x the time
# for about 0.1 dB (the trade per task at 12 MP: docs/speed.md).
ENSEMBLE_MAX_PIXELS = 4_000_000


@dataclass
class RestoreOptions:
    """What ``restore_image`` and ``restore_files`` do to each image."""

    task: str = "denoise"
    method: str = "model"
    sigma: float | None = None  # denoise, deblur: noise std on 0-255 (estimated when None)
    scale: int = 2  # sr
    kernel: str | torch.Tensor | None = None  # deblur: gaussian:SIGMA, motion:LENGTH:ANGLE, a kernel image or tensor
    quality: int | None = None  # jpeg: the file's quality (read from its tables when None)
    mask: str | None = None  # inpaint: mask image file, white = missing (default: the transparent pixels)
    iterations: int | None = None  # dip and plug-and-play iterations (None: the method's default)
    model: str | None = None  # a bundled name, model folder or training run (None: the task's default)
    colour: str = "auto"  # denoise: how a gray model denoises colour (pipelines.denoise.COLOUR_STRATEGIES)
    format: str = "png"
    overwrite: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    bf16: bool = True
    ensemble: bool | None = None  # the self-ensemble: None averages it on outputs up to ENSEMBLE_MAX_PIXELS


def check_options(opts: RestoreOptions) -> None:
    """Fail once, before any file is read, on options that no image could satisfy (the model is checked when
    it is loaded, after the first input has been read)."""
    check_method(opts.task, opts.method)
    check_sigma(opts.sigma)
    check_quality(opts.quality)
    check_iterations(opts.iterations)
    if opts.task == "deblur" and opts.kernel is None:
        raise UsageError("deblur needs kernel=gaussian:SIGMA, motion:LENGTH:ANGLE or a kernel image")
    if isinstance(opts.kernel, str):
        parse_kernel(opts.kernel)
    if opts.task == "sr":
        check_scale(opts.scale)
    check_colour(opts.colour)
    check_max_pixels(opts.max_pixels)
    if opts.mask and not Path(opts.mask).is_file():
        raise UsageError(f"mask={opts.mask}: no such file")


def _mask_for(image: ImageData, opts: RestoreOptions, mask: torch.Tensor | None) -> tuple[torch.Tensor, bool]:
    """The hole mask (1,H,W) for inpainting, and whether it came from the alpha channel. Some pixels must be
    known; a mask with no holes is returned as it is (nothing to do)."""
    where = image.path or "the image"
    if mask is None and opts.mask:
        mask = read_image(opts.mask, channels=1, max_pixels=opts.max_pixels).pixels
    if mask is not None:
        if mask.shape[-2:] != image.pixels.shape[-2:]:
            raise PixelsmithError(f"the mask {opts.mask or ''} is {tuple(mask.shape[-2:])} but the image "
                                  f"{where} is {tuple(image.pixels.shape[-2:])}; the mask must match the image")
        holes, from_alpha = (mask.reshape(1, *mask.shape[-2:]) > 0.5).float(), False
    elif image.alpha is None or not (image.alpha < 0.5).any():
        raise PixelsmithError(f"{where}: nothing to inpaint; pass mask=FILE (white = missing) or "
                              f"an RGBA image whose missing pixels are transparent")
    else:
        holes, from_alpha = (image.alpha < 0.5).float(), True
    if holes.all():
        cause = "its mask is white everywhere" if not from_alpha else "it is transparent everywhere"
        raise PixelsmithError(f"{where}: every pixel is missing ({cause}); inpainting fills holes from the known "
                              f"pixels around them, so some must be known")
    return holes, from_alpha


def grow(t: torch.Tensor | None, side: int = MIN_SIDE) -> torch.Tensor | None:
    """(C,H,W) ``t`` edge-replicated at the bottom and right to at least ``side`` pixels each way."""
    if t is None or min(t.shape[-2:]) >= side:
        return t
    h, w = t.shape[-2:]
    return F.pad(t[None], (0, max(side - w, 0), 0, max(side - h, 0)), mode="replicate")[0]


def restore_image(image: ImageData, opts: RestoreOptions, progress: Progress = None,
                  mask: torch.Tensor | None = None) -> ImageData:
    """The restored image (pixels and alpha) of one input image; ``mask`` (1,H,W), when given, replaces
    ``opts.mask`` for inpainting. Every task takes images of any size: one smaller than MIN_SIDE on a side
    is edge-replicated to it, restored, and cropped back."""
    x, alpha = image.pixels, image.alpha
    (h, w), s = image.size, (opts.scale if opts.task == "sr" else 1)
    common = {"method": opts.method, "model": opts.model, "bf16": opts.bf16, "progress": progress}
    extra = {"iterations": opts.iterations} if opts.iterations else {}
    check_method(opts.task, opts.method)
    ensemble = opts.ensemble if opts.ensemble is not None else h * w * s * s <= ENSEMBLE_MAX_PIXELS
    side = 0 if opts.method == "diffusion" else MIN_SIDE  # a diffusion model fills images of its own size only
    x = grow(x, side)
    if opts.task == "denoise":
        x = denoise(x, opts.sigma, colour=opts.colour, ensemble=ensemble, **common, **extra)
    elif opts.task == "inpaint":
        holes, from_alpha = _mask_for(image, opts, mask)
        alpha = None if from_alpha else alpha
        if holes.any():
            x = inpaint(x, grow(holes, side), ensemble=ensemble, **common, **extra)
    elif opts.task == "sr":
        x = super_resolve(x, opts.scale, ensemble=ensemble, **common, **extra)
        if alpha is not None:
            from pixelsmith.baselines import classical_upscale

            alpha = classical_upscale("bicubic", grow(alpha), s)[..., :h * s, :w * s]
    elif opts.task == "deblur":
        kernel = parse_kernel(opts.kernel) if isinstance(opts.kernel, str) else opts.kernel
        check_kernel_fits(kernel, (h, w), opts.kernel if isinstance(opts.kernel, str) else None)
        x = deblur(x, kernel, sigma=opts.sigma, ensemble=ensemble, **common, **extra)
    elif opts.task == "jpeg":
        table = file_luma_table(image.path) if image.path else None
        quality = opts.quality if opts.quality is not None else jpeg_quality(image.path, table)
        halved = file_chroma_halved(image.path) if image.path else False
        x = remove_jpeg_artifacts(x, quality, ensemble=ensemble, table=table, chroma_halved=halved, **common)
    if not torch.isfinite(x).all():  # a guard: nothing that is not a number reaches a file
        raise PixelsmithError(f"{image.path or 'the image'}: the {opts.task} result holds values that are not finite "
                              f"numbers; nothing was written (please report this with the image and options)")
    return replace(image, pixels=x[..., :h * s, :w * s], alpha=alpha)


def restore_files(source: str | Path, target: str | Path, opts: RestoreOptions, shard: tuple[int, int] = (0, 1),
                  progress: Progress = None) -> FilesResult:
    """Restore a file or a folder of images into ``target`` (see :func:`pixelsmith.pipelines.files.process_files`)."""
    check_options(opts)
    prepare = (lambda: load_restorer(opts.task, opts.model)) if opts.method == "model" else None
    return process_files(source, target, lambda image, p: restore_image(image, opts, p), opts.format,
                         opts.overwrite, opts.max_pixels, shard=shard, progress=progress, prepare=prepare)
