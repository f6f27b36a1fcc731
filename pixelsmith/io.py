"""Read and write images. Conversion between files and float tensors in [0, 1] happens here and only here.

Every PIL mode is accepted (1, L, LA, P, RGB, RGBA, CMYK, I;16, I, F, ...), EXIF orientation is applied,
alpha is carried separately and written back unchanged, 16-bit inputs come back as 16-bit outputs,
and writes are atomic (temp file + rename), so a failure never leaves a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageOps

from pixelsmith.errors import PixelsmithError, UsageError
from pixelsmith.probe import DEFAULT_MAX_PIXELS, OUTPUT_EXTENSIONS, open_image

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF",
           ".webp": "WEBP"}
# zlib level of written PNGs: 1 encodes several times faster than the default 6, for somewhat larger files
# (measured by benchmarks/speed.py)
PNG_COMPRESSION = 1


@dataclass
class ImageData:
    """An image as the package sees it: pixels (C,H,W float in [0, 1], C = 1 or 3), optional alpha (1,H,W)."""

    pixels: torch.Tensor
    alpha: torch.Tensor | None = None
    bit_depth: int = 8
    path: str = ""
    exif: bytes | None = None  # the file's EXIF, orientation reset once the rotation is applied
    icc: bytes | None = None  # the file's ICC colour profile

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return tuple(self.pixels.shape[-2:])


def _open(path: Path, max_pixels: int) -> Image.Image:
    """``path`` decoded by PIL, its header checked first (:mod:`pixelsmith.probe`), EXIF orientation applied."""
    image = open_image(path, max_pixels)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise PixelsmithError(f"{path}: damaged or truncated image ({exc})") from None
    return ImageOps.exif_transpose(image)


def _split(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Array (H,W,C) float in [0,1], alpha (H,W) or None, bit depth (8 or 16)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        raw = np.asarray(image).astype(np.float64)
        return (np.clip(raw, 0, 65535) / 65535.0)[..., None], None, 16
    if mode == "F":
        return np.clip(np.asarray(image, dtype=np.float64), 0, 1)[..., None], None, 16
    alpha = None
    gray = mode in ("L", "LA", "1") or (mode in ("P", "PA") and _gray_palette(image))
    if mode in ("LA", "RGBA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        alpha = np.asarray(image.getchannel("A"), dtype=np.float64) / 255.0
        image = image.convert("L" if gray else "RGB")
    elif gray:
        image = image.convert("L")
    else:  # P, CMYK, YCbCr, LAB, HSV, RGBX, ...
        image = image.convert("RGB")
    array = np.asarray(image, dtype=np.float64) / 255.0
    return (array[..., None] if array.ndim == 2 else array), alpha, 8


def _gray_palette(image: Image.Image) -> bool:
    """Whether every palette entry a palette image uses is a gray (a gray GIF or PNG stays one channel)."""
    palette = image.getpalette()
    if not palette:
        return False
    entries = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
    used = np.unique(np.asarray(image))
    used = entries[used[used < len(entries)]]
    return bool((used[:, 0] == used[:, 1]).all() and (used[:, 1] == used[:, 2]).all())


def _read_16bit_rgb(path: Path) -> np.ndarray | None:
    """16-bit-per-channel RGB(A) PNG/TIFF, which PIL reduces to 8 bits; read with OpenCV or tifffile when present."""
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
        if array is not None and array.dtype == np.uint16 and array.ndim == 3:
            return cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return None


def read_image(path: str | Path, channels: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageData:
    """Read ``path`` into an :class:`ImageData`; ``channels`` 1 or 3 converts, None keeps gray as gray."""
    path = Path(path)
    image = _open(path, max_pixels)
    array, alpha, depth = _split(image)
    if image.mode in ("RGB", "RGBA") and path.suffix.lower() in (".png", ".tif", ".tiff"):
        wide = _read_16bit_rgb(path)
        if wide is not None and wide.shape[:2] == array.shape[:2]:
            # EXIF rotation is not applied on this path: 16-bit PNG/TIFF from scanners rarely carry it.
            array, depth = wide[..., :3].astype(np.float64) / 65535.0, 16
            alpha = wide[..., 3].astype(np.float64) / 65535.0 if wide.shape[2] == 4 else alpha
    pixels = _tensor(array)
    if channels == 1 and pixels.shape[0] == 3:
        pixels = (pixels * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
    elif channels == 3 and pixels.shape[0] == 1:
        pixels = pixels.expand(3, -1, -1).contiguous()
    elif channels not in (None, 1, 3):
        raise PixelsmithError(f"channels={channels} is not accepted; use 1 (gray) or 3 (RGB)")
    exif = image.getexif()
    return ImageData(pixels, None if alpha is None else _tensor(alpha[..., None]), depth, str(path),
                     exif.tobytes() if len(exif) else None, image.info.get("icc_profile") or None)


def _tensor(array: np.ndarray) -> torch.Tensor:
    """(H,W,C) float array to a (C,H,W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))).float()


def _layers(pixels: torch.Tensor, alpha: torch.Tensor | None) -> torch.Tensor:
    """The pixels with the alpha channel, when there is one, as a last layer."""
    return pixels if alpha is None else torch.cat([pixels, alpha.to(pixels)], 0)


def from_pil(image: Image.Image) -> ImageData:
    """An in-memory PIL image of any mode as an :class:`ImageData` (its pixels as they are, no EXIF rotation)."""
    array, alpha, depth = _split(image)
    return ImageData(_tensor(array), None if alpha is None else _tensor(alpha[..., None]), depth)


def from_array(array: np.ndarray) -> ImageData:
    """A uint8 or uint16 array (H,W), (H,W,1), (H,W,2) gray + alpha, (H,W,3) RGB or (H,W,4) RGBA as an ImageData."""
    if array.dtype not in (np.uint8, np.uint16):
        raise UsageError(f"image is a {array.dtype} array; accepted: uint8 or uint16 arrays, or float tensors in "
                         f"[0, 1]")
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4) or 0 in array.shape:
        raise UsageError(f"image array has shape {array.shape}; accepted: (H,W) or (H,W,C) with C = 1, 2, 3 or 4")
    depth = 16 if array.dtype == np.uint16 else 8
    layers = torch.from_numpy(array.astype(np.float32).transpose(2, 0, 1).copy()) / (65535.0 if depth == 16 else 255.0)
    colour = 3 if layers.shape[0] >= 3 else 1
    alpha = layers[colour:] if layers.shape[0] in (2, 4) else None
    return ImageData(layers[:colour].contiguous(), alpha, depth)


def to_pil(image: ImageData) -> Image.Image:
    """A PIL image of ``image``: L, LA, RGB or RGBA at 8 bits, or I;16 for 16-bit gray without alpha (PIL holds no
    16-bit colour, so 16-bit colour comes back at 8 bits)."""
    gray16 = image.bit_depth == 16 and image.pixels.shape[0] == 1 and image.alpha is None
    if gray16:
        return Image.fromarray(to_uint(image.pixels, 16).astype(np.uint16))
    return Image.fromarray(to_uint(_layers(image.pixels, image.alpha), 8))


def to_array(image: ImageData) -> np.ndarray:
    """``image`` as a uint8 or uint16 array (by its bit depth) shaped as :func:`from_array` accepts."""
    return to_uint(_layers(image.pixels, image.alpha), image.bit_depth)


def to_uint(tensor: torch.Tensor, bit_depth: int = 8) -> np.ndarray:
    """(C,H,W) float in [0,1] to (H,W[,C]) uint8 or uint16, rounded and clipped."""
    peak = 65535 if bit_depth == 16 else 255
    array = (tensor.detach().float().clamp(0, 1) * peak).round().cpu().numpy().astype(
        np.uint16 if bit_depth == 16 else np.uint8)
    array = array.transpose(1, 2, 0)
    return array[..., 0] if array.shape[2] == 1 else array


_UMASK = os.umask(0)
os.umask(_UMASK)


def give_default_permissions(path: str | Path) -> None:
    """The mode a plain open()/mkdir() would give (umask applied): temp files and folders start owner-only."""
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~_UMASK)


def atomic_write(path: str | Path, save: Callable[[str], None]) -> None:
    """Call ``save(tmp)`` on a temp file beside ``path``, then rename it into place: readers never see a
    half-written file, and a failure leaves the old file (if any) untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save(tmp)
        give_default_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_image(path: str | Path, pixels: torch.Tensor, alpha: torch.Tensor | None = None, bit_depth: int = 8,
                quality: int = 95, exif: bytes | None = None, icc: bytes | None = None) -> Path:
    """Write (C,H,W) pixels in [0,1] (plus optional alpha) atomically; the format follows the suffix. ``exif``
    and ``icc`` are stored where PIL writes them (PNG, JPEG, WebP, TIFF at 8 bits and 16-bit gray)."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PixelsmithError(f"{path}: unknown output format; accepted suffixes: {', '.join(OUTPUT_EXTENSIONS)}")
    if pixels.ndim != 3 or pixels.shape[0] not in (1, 3):
        raise PixelsmithError(f"write_image expects (C,H,W) with C = 1 or 3, got shape {tuple(pixels.shape)}")
    if bit_depth == 16 and fmt not in ("PNG", "TIFF"):
        bit_depth = 8  # JPEG, BMP and WebP hold 8 bits only
    if alpha is not None and fmt in ("JPEG", "BMP"):
        alpha = None  # these formats hold no alpha
    array = to_uint(_layers(pixels, alpha), bit_depth)

    if bit_depth == 16 and array.ndim == 3 and array.shape[2] == 2:
        # 16-bit gray + alpha: OpenCV has no LA mode, so it is written as 16-bit RGBA (same look, same alpha)
        array = np.dstack([array[..., 0]] * 3 + [array[..., 1]])

    meta = {} if fmt == "BMP" else {k: v for k, v in (("exif", exif), ("icc_profile", icc)) if v}

    png = {"compress_level": PNG_COMPRESSION} if fmt == "PNG" else {}

    def save(tmp: str) -> None:
        if bit_depth == 16 and array.ndim == 3:
            import cv2  # PIL cannot write 16-bit RGB; OpenCV can

            code = cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR
            ext = ".png" if fmt == "PNG" else ".tiff"
            params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION] if fmt == "PNG" else []
            ok, buffer = cv2.imencode(ext, cv2.cvtColor(array, code), params)
            if not ok:
                raise PixelsmithError(f"{path}: OpenCV could not encode a 16-bit image")
            Path(tmp).write_bytes(buffer.tobytes())
        elif bit_depth == 16 and alpha is None:
            Image.fromarray(array.astype(np.uint16)).save(tmp, format=fmt, **png, **meta)  # mode I;16
        else:
            kwargs = dict(meta, **png, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {}))
            if fmt == "WEBP" and alpha is None:
                kwargs["lossless"] = False
            Image.fromarray(array).save(tmp, format=fmt, **kwargs)

    atomic_write(path, save)
    return path


def write_image_data(path: str | Path, image: ImageData, pixels: torch.Tensor | None = None, quality: int = 95
                     ) -> Path:
    """Write ``pixels`` (default: image.pixels) with the alpha, bit depth, EXIF and colour profile of ``image``."""
    return write_image(path, image.pixels if pixels is None else pixels, image.alpha, image.bit_depth, quality,
                       image.exif, image.icc)
