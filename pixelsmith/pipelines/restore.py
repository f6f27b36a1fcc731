"""Restoration pipeline: the options of one run, and files or whole folders processed without overwriting or
half-writing anything; under ``torchrun`` each process takes its share of a folder."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.io import DEFAULT_MAX_PIXELS, EXTENSIONS, ImageData, find_images, read_image, write_image_data
from pixelsmith.jpeg import file_luma_table, jpeg_quality
from pixelsmith.pipelines.tasks import (DEFAULT_MODELS, METHODS, TASKS, check_method, check_sigma, deblur, denoise,
                                        inpaint, load_restorer, parse_kernel, remove_jpeg_artifacts, super_resolve)
from pixelsmith.pipelines.tiling import apply_model, run_tiled

__all__ = ["DEFAULT_MODELS", "METHODS", "TASKS", "RestoreOptions", "apply_model", "deblur", "denoise", "inpaint",
           "load_restorer", "process_files", "remove_jpeg_artifacts", "restore_files", "run_tiled", "super_resolve"]


@dataclass
class RestoreOptions:
    """What ``restore_files`` does to each image."""

    task: str = "denoise"
    method: str = "model"
    sigma: float | None = None  # denoise, deblur: noise std on 0-255 (estimated when None)
    scale: int = 2  # sr
    kernel: str | None = None  # deblur: gaussian:SIGMA, motion:LENGTH:ANGLE or a kernel image
    quality: int | None = None  # jpeg: the file's quality (read from its tables when None)
    mask: str | None = None  # inpaint: mask image, white = missing (default: the transparent pixels)
    iterations: int | None = None  # dip and plug-and-play iterations
    model: str | None = None
    format: str = "png"
    overwrite: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    bf16: bool = True
    ensemble: bool = True


def check_options(opts: RestoreOptions) -> None:
    """Fail once, before any file is read, on options that no image could satisfy."""
    check_method(opts.task, opts.method)
    check_sigma(opts.sigma)
    if opts.task == "deblur" and not opts.kernel:
        raise UsageError("deblur needs --kernel: gaussian:SIGMA, motion:LENGTH:ANGLE or a kernel image")
    if opts.kernel:
        parse_kernel(opts.kernel)
    if opts.task == "sr" and opts.scale not in (2, 3, 4):
        raise UsageError(f"--scale {opts.scale} is not supported; accepted: 2, 3, 4")
    if opts.quality is not None and not 1 <= opts.quality <= 100:
        raise UsageError(f"--quality {opts.quality} is out of range; accepted: 1 to 100")
    if opts.iterations is not None and opts.iterations < 1:
        raise UsageError(f"--iterations {opts.iterations} must be at least 1")
    if opts.mask and not Path(opts.mask).is_file():
        raise UsageError(f"--mask {opts.mask}: no such file")
    if opts.method == "model":
        for channels in (1, 3):
            load_restorer(opts.task, opts.model, channels)
            if opts.model:
                break


def _mask_for(image: ImageData, opts: RestoreOptions) -> tuple[torch.Tensor, bool]:
    """The hole mask (1,H,W) for inpainting, and whether it came from the alpha channel."""
    if opts.mask:
        mask = read_image(opts.mask, channels=1, max_pixels=opts.max_pixels).pixels
        if mask.shape[-2:] != image.pixels.shape[-2:]:
            raise PixelsmithError(f"{opts.mask} is {tuple(mask.shape[-2:])} but {image.path} is "
                                  f"{tuple(image.pixels.shape[-2:])}; the mask must match the image")
        return (mask > 0.5).float(), False
    if image.alpha is None or not (image.alpha < 0.5).any():
        raise PixelsmithError(f"{image.path}: nothing to inpaint; pass --mask FILE (white = missing) or an RGBA "
                              f"image whose missing pixels are transparent")
    return (image.alpha < 0.5).float(), True


def restore_image(image: ImageData, opts: RestoreOptions) -> ImageData:
    """The restored image (pixels and alpha) of one input image."""
    x, alpha = image.pixels, image.alpha
    extra = {"iterations": opts.iterations} if opts.iterations else {}
    if opts.task == "denoise":
        x = denoise(x, opts.method, opts.sigma, opts.model, opts.bf16, opts.ensemble, **extra)
    elif opts.task == "inpaint":
        mask, from_alpha = _mask_for(image, opts)
        x = inpaint(x, mask, opts.method, opts.model, opts.bf16, ensemble=opts.ensemble, **extra)
        alpha = None if from_alpha else alpha
    elif opts.task == "sr":
        x = super_resolve(x, opts.scale, opts.method, opts.model, opts.bf16, **extra)
        if alpha is not None:
            from pixelsmith.baselines import classical_upscale

            alpha = classical_upscale("bicubic", alpha, opts.scale)
    elif opts.task == "deblur":
        x = deblur(x, parse_kernel(opts.kernel), opts.method, opts.sigma, opts.model, opts.bf16, **extra)
    elif opts.task == "jpeg":
        table = file_luma_table(image.path) if image.path else None
        quality = opts.quality if opts.quality is not None else jpeg_quality(image.path, table)
        x = remove_jpeg_artifacts(x, quality, opts.method, opts.model, opts.bf16, opts.ensemble, table)
    else:
        raise UsageError(f"unknown task '{opts.task}'; accepted: {', '.join(TASKS)}")
    return replace(image, pixels=x, alpha=alpha)


def plan_outputs(source: Path, target: Path, fmt: str) -> list[tuple[Path, Path]]:
    """(input, output) pairs: a file maps to ``target``; a folder's files keep their relative path and stem."""
    if f".{fmt.lower()}" not in EXTENSIONS:
        raise UsageError(f"--format {fmt} is not accepted; use one of {', '.join(e[1:] for e in EXTENSIONS)}")
    if source.is_dir():
        if target.exists() and not target.is_dir():
            raise UsageError(f"{source} is a folder, so -o must be a folder, but {target} is a file")
        pairs = [(f, (target / f.relative_to(source)).with_suffix(f".{fmt}")) for f in find_images(source)]
        seen: dict[Path, Path] = {}
        for src, dst in pairs:
            if dst in seen:
                raise UsageError(f"{seen[dst].name} and {src.name} would both be written to {dst}; "
                                 f"rename one or restore them separately")
            seen[dst] = src
        return pairs
    if not source.exists():
        raise PixelsmithError(f"{source}: no such file or folder")
    if target.is_dir():
        return [(source, target / f"{source.stem}.{fmt}")]
    if target.suffix.lower() not in EXTENSIONS:
        raise UsageError(f"{target}: unknown output format; accepted suffixes: {', '.join(EXTENSIONS)}")
    return [(source, target)]


def shard() -> tuple[int, int]:
    """(rank, world size) under torchrun, (0, 1) otherwise."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def process_files(source: str | Path, target: str | Path,
                  transform: Callable[[ImageData], torch.Tensor | ImageData],
                  fmt: str = "png", overwrite: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS,
                  progress: bool = True, desc: str = "restore", quality: int = 95) -> tuple[list[Path], list[str]]:
    """Apply ``transform`` to a file or every image of a folder; returns written paths and per-file errors.
    Existing outputs are skipped unless ``overwrite``; one bad file does not stop the others. Under torchrun,
    process r of n takes the folder's files r, r+n, r+2n, ... (sorted), so each is done once."""
    source, target = Path(source), Path(target)
    pairs = plan_outputs(source, target, fmt)
    rank, world = shard()
    pairs = pairs[rank::world]
    if not source.is_dir() and pairs and pairs[0][1].exists() and not overwrite:
        raise PixelsmithError(f"{pairs[0][1]} exists; pass --overwrite to replace it")
    written, errors, skipped = [], [], 0
    iterator = pairs
    if progress and len(pairs) > 1 and rank == 0:
        from tqdm import tqdm

        iterator = tqdm(pairs, desc=desc, unit="img", file=sys.stderr)
    for src, dst in iterator:
        if dst.exists() and not overwrite:
            skipped += 1
            continue
        try:
            image = read_image(src, max_pixels=max_pixels)
            result = transform(image)
            if not isinstance(result, ImageData):
                result = replace(image, pixels=result)
            written.append(write_image_data(dst, result, quality=quality))
        except (PixelsmithError, OSError) as exc:
            if not source.is_dir() or isinstance(exc, UsageError):
                raise
            errors.append(str(exc) if isinstance(exc, PixelsmithError) else f"{src}: {exc}")
    if skipped:
        print(f"skipped {skipped} existing output(s); pass --overwrite to replace them", file=sys.stderr)
    return written, errors


def restore_files(source: str | Path, target: str | Path, opts: RestoreOptions, progress: bool = True
                  ) -> tuple[list[Path], list[str]]:
    """Restore a file or a folder of images into ``target``."""
    check_options(opts)
    return process_files(source, target, lambda im: restore_image(im, opts), opts.format, opts.overwrite,
                         opts.max_pixels, progress, desc=opts.task)
