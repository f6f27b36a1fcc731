"""What an image file is, from its header, without decoding its pixels or importing torch: the checks every
input passes before any model is loaded (exists, is an image, is not too large, is a still image), so a bad
input is refused in a fraction of a second. :mod:`pixelsmith.io` decodes what passes."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from pixelsmith.errors import PixelsmithError, UsageError

# Suffixes read as inputs; GIF is read (still images only) but never written, since it holds 256 colours.
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
OUTPUT_EXTENSIONS = tuple(e for e in EXTENSIONS if e != ".gif")
DEFAULT_MAX_PIXELS = 100_000_000  # 100 MP; raise it with max_pixels= (or --max-pixels in the CLI)
Image.MAX_IMAGE_PIXELS = None  # the limit is ours (max_pixels), checked before decoding


@dataclass(frozen=True)
class Header:
    """What the header of an image file says."""

    width: int
    height: int
    mode: str
    frames: int


def find_images(root: str | Path) -> list[Path]:
    """All image files under ``root``, recursively, sorted, hidden files and folders left out; a clear error
    when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise PixelsmithError(f"{root}: not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise PixelsmithError(f"{root}: no images found (accepted: {', '.join(EXTENSIONS)})")
    return files


def open_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """``path`` opened lazily by PIL (pixels not decoded yet) once its header passed :func:`check_header`."""
    path = Path(path)
    if not path.is_file():
        raise PixelsmithError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PixelsmithError(f"{path}: not a readable image ({exc.__class__.__name__}); "
                              f"accepted: {', '.join(EXTENSIONS)}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PixelsmithError(f"{path}: damaged or truncated image ({exc})") from None
    try:
        check_header(path, header_of(image), max_pixels)
    except BaseException:
        image.close()
        raise
    return image


def header_of(image: Image.Image) -> Header:
    """The :class:`Header` of an opened PIL image."""
    return Header(*image.size, image.mode, getattr(image, "n_frames", 1))


def check_max_pixels(max_pixels: int) -> None:
    """A usage error for a pixel limit that no image could meet."""
    if max_pixels < 1:
        raise UsageError(f"max_pixels={max_pixels} must be at least 1 (the default is {DEFAULT_MAX_PIXELS})")


def check_header(path: str | Path, header: Header, max_pixels: int) -> None:
    """A one-line error for an empty, too large or animated image."""
    pixels = header.width * header.height
    if pixels == 0:
        raise PixelsmithError(f"{path}: the image is {header.width}x{header.height}, it has no pixels")
    if pixels > max_pixels:
        raise PixelsmithError(f"{path}: {header.width}x{header.height} = {pixels} pixels exceeds the limit of "
                              f"{max_pixels} (raise it with max_pixels=N)")
    if header.frames > 1:
        raise PixelsmithError(f"{path}: an animation of {header.frames} frames; pixelsmith restores still images, so "
                              f"save the frames as separate files (for example with ffmpeg -i IN frame%03d.png) "
                              f"and restore that folder")


def probe(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Header:
    """The header of an image file that passed every check, without decoding its pixels."""
    with open_image(path, max_pixels) as image:
        return header_of(image)
