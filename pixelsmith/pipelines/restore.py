"""Restoration of images and files: the options of one run, checked once before any file is read, applied
to one image (with its alpha and mask) or to every file of a folder through :mod:`pixelsmith.pipelines.files`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from pixelsmith.degradations import parse_kernel
from pixelsmith.errors import PixelsmithError, UsageError
from pixelsmith.io import DEFAULT_MAX_PIXELS, ImageData, read_image
from pixelsmith.jpeg import file_luma_table, jpeg_quality
from pixelsmith.pipelines.deblur import deblur
from pixelsmith.pipelines.denoise import check_colour, denoise
from pixelsmith.pipelines.files import FilesResult, process_files
from pixelsmith.pipelines.inpaint import inpaint
from pixelsmith.pipelines.jpeg import remove_jpeg_artifacts
from pixelsmith.pipelines.methods import (check_iterations, check_method, check_quality, check_scale, check_sigma,
                                          load_restorer)
from pixelsmith.pipelines.sr import super_resolve
from pixelsmith.progress import Progress


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
    ensemble: bool = True


def check_options(opts: RestoreOptions) -> None:
    """Fail once, before any file is read, on options that no image could satisfy."""
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
    if opts.mask and not Path(opts.mask).is_file():
        raise UsageError(f"mask={opts.mask}: no such file")
    if opts.method == "model":
        load_restorer(opts.task, opts.model)


def _mask_for(image: ImageData, opts: RestoreOptions, mask: torch.Tensor | None) -> tuple[torch.Tensor, bool]:
    """The hole mask (1,H,W) for inpainting, and whether it came from the alpha channel."""
    if mask is None and opts.mask:
        mask = read_image(opts.mask, channels=1, max_pixels=opts.max_pixels).pixels
    if mask is not None:
        if mask.shape[-2:] != image.pixels.shape[-2:]:
            raise PixelsmithError(f"the mask {opts.mask or ''} is {tuple(mask.shape[-2:])} but the image "
                                  f"{image.path} is {tuple(image.pixels.shape[-2:])}; the mask must match the image")
        return (mask.reshape(1, *mask.shape[-2:]) > 0.5).float(), False
    if image.alpha is None or not (image.alpha < 0.5).any():
        raise PixelsmithError(f"{image.path or 'the image'}: nothing to inpaint; pass mask=FILE (white = missing) or "
                              f"an RGBA image whose missing pixels are transparent")
    return (image.alpha < 0.5).float(), True


def restore_image(image: ImageData, opts: RestoreOptions, progress: Progress = None,
                  mask: torch.Tensor | None = None) -> ImageData:
    """The restored image (pixels and alpha) of one input image; ``mask`` (1,H,W), when given, replaces
    ``opts.mask`` for inpainting."""
    x, alpha = image.pixels, image.alpha
    common = {"method": opts.method, "model": opts.model, "bf16": opts.bf16, "progress": progress}
    extra = {"iterations": opts.iterations} if opts.iterations else {}
    if opts.task == "denoise":
        x = denoise(x, opts.sigma, colour=opts.colour, ensemble=opts.ensemble, **common, **extra)
    elif opts.task == "inpaint":
        holes, from_alpha = _mask_for(image, opts, mask)
        x = inpaint(x, holes, ensemble=opts.ensemble, **common, **extra)
        alpha = None if from_alpha else alpha
    elif opts.task == "sr":
        x = super_resolve(x, opts.scale, **common, **extra)
        if alpha is not None:
            from pixelsmith.baselines import classical_upscale

            alpha = classical_upscale("bicubic", alpha, opts.scale)
    elif opts.task == "deblur":
        kernel = parse_kernel(opts.kernel) if isinstance(opts.kernel, str) else opts.kernel
        x = deblur(x, kernel, sigma=opts.sigma, **common, **extra)
    elif opts.task == "jpeg":
        table = file_luma_table(image.path) if image.path else None
        quality = opts.quality if opts.quality is not None else jpeg_quality(image.path, table)
        x = remove_jpeg_artifacts(x, quality, ensemble=opts.ensemble, table=table, **common)
    else:
        check_method(opts.task, opts.method)
    return replace(image, pixels=x, alpha=alpha)


def restore_files(source: str | Path, target: str | Path, opts: RestoreOptions, shard: tuple[int, int] = (0, 1),
                  progress: Progress = None) -> FilesResult:
    """Restore a file or a folder of images into ``target`` (see :func:`pixelsmith.pipelines.files.process_files`)."""
    check_options(opts)
    return process_files(source, target, lambda image, p: restore_image(image, opts, p), opts.format,
                         opts.overwrite, opts.max_pixels, shard=shard, progress=progress)
