"""Files and folders: which output each input goes to, and a transform applied to each without overwriting or
half-writing anything. A shard (rank, world size) takes every n-th file of a folder, for torchrun."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch

from pixelsmith.errors import Cancelled, PixelsmithError, UsageError
from pixelsmith.io import ImageData, read_image, write_image_data
from pixelsmith.probe import DEFAULT_MAX_PIXELS, OUTPUT_EXTENSIONS, find_images
from pixelsmith.progress import Progress, report

Transform = Callable[[ImageData, Progress], "torch.Tensor | ImageData"]


@dataclass
class FilesResult:
    """What a run over files did: outputs written, one-line errors of the files that failed, and outputs that
    existed already and were left alone."""

    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def plan_outputs(source: Path, target: Path, fmt: str) -> list[tuple[Path, Path]]:
    """(input, output) pairs: a file maps to ``target``; a folder's files keep their relative path and stem.
    An output folder inside the input folder is left out of the inputs, so a second run does not restore its
    own outputs; no output may replace an input."""
    if f".{fmt.lower()}" not in OUTPUT_EXTENSIONS:
        raise UsageError(f"format={fmt} is not accepted; accepted: {', '.join(e[1:] for e in OUTPUT_EXTENSIONS)}")
    if source.is_dir():
        if target.exists() and not target.is_dir():
            raise UsageError(f"{source} is a folder, so the output must be a folder, but {target} is a file")
        inside = target.resolve()
        if inside == source.resolve():
            raise UsageError(f"the output folder {target} is the input folder; choose another (it may lie inside)")
        files = [f for f in find_images(source) if not f.resolve().is_relative_to(inside)]
        if not files:
            raise PixelsmithError(f"{source}: no images found outside the output folder {target}")
        pairs = [(f, (target / f.relative_to(source)).with_suffix(f".{fmt}")) for f in files]
        seen: dict[Path, Path] = {}
        for src, dst in pairs:
            if dst in seen:
                raise UsageError(f"{seen[dst].name} and {src.name} would both be written to {dst}; "
                                 f"rename one or restore them separately")
            seen[dst] = src
    elif not source.exists():
        raise PixelsmithError(f"{source}: no such file or folder")
    elif target.is_dir():
        pairs = [(source, target / f"{source.stem}.{fmt}")]
    elif target.suffix.lower() not in OUTPUT_EXTENSIONS:
        raise UsageError(f"{target}: unknown output format; accepted suffixes: {', '.join(OUTPUT_EXTENSIONS)}")
    else:
        pairs = [(source, target)]
    inputs = {src.resolve() for src, _ in pairs}
    for src, dst in pairs:
        if dst.resolve() in inputs:
            raise UsageError(f"{dst} is an input; writing there would replace it: choose another output")
    return pairs


def process_files(source: str | Path, target: str | Path, transform: Transform, fmt: str = "png",
                  overwrite: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS, quality: int = 95,
                  shard: tuple[int, int] = (0, 1), progress: Progress = None,
                  prepare: Callable[[], None] | None = None) -> FilesResult:
    """Apply ``transform(image, progress)`` to a file or every image of a folder. Existing outputs are skipped
    unless ``overwrite``; one bad file of a folder does not stop the others; shard (r, n) takes the folder's
    files r, r+n, r+2n, ... (sorted), so each is done once. ``prepare()`` (loading models, say) runs once,
    after the first input has been read, so a bad input is refused before anything heavy happens. A 'files'
    event follows each file; a Cancelled raised by ``progress`` (or Ctrl-C) stops before the file in flight
    is written and is raised again with the count of outputs written."""
    source, target = Path(source), Path(target)
    pairs = plan_outputs(source, target, fmt)
    rank, world = shard
    pairs = pairs[rank::world]
    if not source.is_dir() and pairs and pairs[0][1].exists() and not overwrite:
        raise PixelsmithError(f"{pairs[0][1]} exists; pass overwrite=True to replace it")
    result = FilesResult()

    def failed(src: Path, exc: Exception) -> None:
        if not source.is_dir() or isinstance(exc, UsageError):
            raise exc
        result.errors.append(str(exc) if isinstance(exc, PixelsmithError) else f"{src}: {exc}")

    try:
        for done, (src, dst) in enumerate(pairs, 1):
            if dst.exists() and not overwrite:
                result.skipped.append(dst)
            else:
                try:
                    image = read_image(src, max_pixels=max_pixels)
                except (PixelsmithError, OSError) as exc:
                    failed(src, exc)
                    image = None
                if image is not None and prepare is not None:
                    prepare()  # its errors concern every file, so they stop the run
                    prepare = None
                try:
                    if image is not None:
                        out = transform(image, progress)
                        if not isinstance(out, ImageData):
                            out = replace(image, pixels=out)
                        result.written.append(write_image_data(dst, out, quality=quality))
                except (PixelsmithError, OSError) as exc:
                    failed(src, exc)
            report(progress, "files", done, len(pairs))
    except (Cancelled, KeyboardInterrupt):
        raise Cancelled(f"{len(result.written)} of {len(pairs)} outputs written", len(result.written),
                        len(pairs)) from None
    return result
