"""What a decoded JPEG still tells about the original: the quality it was saved with (from the file's luma
quantisation table) and, for every full 8x8 block, the interval each DCT coefficient of the original lay in.

Restoration models give an estimate; projecting its luma onto those intervals (the quantisation constraint set of
POCS deblocking, Yang et al. 1993) is a convex projection onto a set that holds the original, so it can only
bring the estimate closer (what it adds is measured in docs/tasks.md).
"""

from __future__ import annotations

import math

import torch

from pixelsmith.errors import PixelsmithError

# The IJG (libjpeg) standard luminance table, row by row, that libjpeg scales by the quality setting.
IJG_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
            14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
            49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]

# A decoded JPEG's nonzero block DCT coefficients sit on multiples of its table: their mean distance to the
# nearest multiple (see misfit) is 0.01-0.05 for the file's own table and about 0.25 (a uniform fraction) for an
# image that was cropped, resized or saved with other tables. A table finer than the file's by a factor of about
# 2 or more (a quality given too high) also fits, but then the data fits the doubled table as well, which the
# file's own does not (about 0.4: most coefficients are odd multiples).
MAX_MISFIT, MIN_MISFIT_DOUBLED = 0.1, 0.2


def jpeg_condition(quality: float, h: int, w: int) -> torch.Tensor:
    """The conditioning map of a JPEG model: (100 - quality) / 100 everywhere."""
    return torch.full((1, h, w), (100.0 - quality) / 100.0)


def ijg_luma_table(quality: int) -> torch.Tensor:
    """The (8, 8) luma quantisation table libjpeg writes at ``quality`` (1-100), baseline (steps 1-255)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality  # libjpeg divides in integers
    base = torch.tensor(IJG_LUMA, dtype=torch.float64).view(8, 8)
    return torch.clamp(torch.floor((base * scale + 50) / 100), 1, 255)


def file_luma_table(path: str) -> torch.Tensor | None:
    """The (8, 8) luma quantisation table of a JPEG file; None for other formats."""
    from PIL import Image

    with Image.open(path) as im:
        tables = getattr(im, "quantization", None)
        if im.format != "JPEG" or not tables:
            return None
        return torch.tensor(list(tables[0]), dtype=torch.float64).view(8, 8)


def file_chroma_halved(path: str) -> bool:
    """Whether a JPEG file stores its chroma at half the resolution both ways (4:2:0, Pillow's and most cameras'
    default); False for 4:4:4, 4:2:2, gray JPEGs and other formats."""
    from PIL import Image, JpegImagePlugin

    with Image.open(path) as im:
        return im.format == "JPEG" and im.mode != "L" and JpegImagePlugin.get_sampling(im) == 2


def jpeg_quality(path: str, table: torch.Tensor | None = None) -> int:
    """Estimate the IJG quality (1-100) a JPEG file was saved with, from its luma quantisation table (``table``
    when the caller has already read it with file_luma_table): the quality whose scaled standard table is closest."""
    table = file_luma_table(path) if table is None else table
    if table is None:
        raise PixelsmithError(f"{path}: not a JPEG file, so its quality cannot be read; pass quality=Q (10-90)")
    errors = [float((ijg_luma_table(q).sort().values - table.sort().values).abs().sum()) for q in range(1, 101)]
    return 1 + min(range(100), key=errors.__getitem__)


def _dct8() -> torch.Tensor:
    """The orthonormal 8-point DCT-II matrix (JPEG's forward DCT is this transform in both directions)."""
    k = torch.arange(8, dtype=torch.float64)
    m = torch.cos(math.pi * (2 * k[None, :] + 1) * k[:, None] / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m


def _block_dct(plane: torch.Tensor) -> torch.Tensor:
    """(H, W) in [0, 1], H and W multiples of 8 -> (H/8, W/8, 8, 8) DCT coefficients of the level-shifted pixels."""
    h, w = plane.shape
    blocks = (plane.double() * 255 - 128).reshape(h // 8, 8, w // 8, 8).permute(0, 2, 1, 3)
    c = _dct8()
    return c @ blocks @ c.T


def _block_idct(coefs: torch.Tensor) -> torch.Tensor:
    c = _dct8()
    blocks = c.T @ coefs @ c
    hb, wb = blocks.shape[:2]
    return ((blocks.permute(0, 2, 1, 3).reshape(hb * 8, wb * 8) + 128) / 255).float()


def fits(decoded: torch.Tensor, table: torch.Tensor) -> bool:
    """Whether a decoded luma plane (H, W) looks like a JPEG saved with ``table``, on its own 8x8 grid."""
    coefs = _full_block_dct(decoded)
    return _misfit(coefs, table) <= MAX_MISFIT and _misfit(coefs, 2 * table) >= MIN_MISFIT_DOUBLED


def misfit(decoded: torch.Tensor, table: torch.Tensor) -> float:
    """Mean distance (in quantisation steps) of a decoded luma plane's full-block nonzero DCT coefficients to the
    nearest multiple of ``table``, over steps of at least 4 (finer ones are blurred by 8-bit rounding);
    infinite when there is no such coefficient to judge by."""
    return _misfit(_full_block_dct(decoded), table)


def _full_block_dct(plane: torch.Tensor) -> torch.Tensor:
    """Block DCT of the full 8x8 blocks of a plane (partial edge blocks dropped)."""
    return _block_dct(plane[: plane.shape[0] // 8 * 8, : plane.shape[1] // 8 * 8])


def _misfit(coefs: torch.Tensor, table: torch.Tensor) -> float:
    ratio = coefs / table
    judged = (ratio.abs() >= 0.5) & (table >= 4)
    return float((ratio - ratio.round())[judged].abs().mean()) if judged.any() else float("inf")


@torch.no_grad()
def quantisation_constraint(restored: torch.Tensor, decoded: torch.Tensor, table: torch.Tensor,
                            rows: int = 64) -> torch.Tensor:
    """Project a restored luma plane (H, W) onto the images whose full 8x8 blocks quantise with ``table`` to the
    decoded plane's coefficients: each DCT coefficient is clipped to its quantisation interval. Partial edge
    blocks (libjpeg padded them with pixels we do not have) are kept. Works in strips of ``rows`` block rows
    so memory stays bounded; returns ``restored`` itself when the decoded plane does not fit the table."""
    if restored.shape != decoded.shape:
        raise PixelsmithError(f"restored {tuple(restored.shape)} and decoded {tuple(decoded.shape)} differ in size")
    if not fits(decoded, table):
        return restored
    out = restored.clone()
    h, w = decoded.shape[0] // 8 * 8, decoded.shape[1] // 8 * 8
    for top in range(0, h, rows * 8):
        bottom = min(top + rows * 8, h)
        steps = torch.round(_block_dct(decoded[top:bottom, :w]) / table)
        low, high = (steps - 0.5) * table, (steps + 0.5) * table
        coefs = torch.minimum(torch.maximum(_block_dct(restored[top:bottom, :w]), low), high)
        out[top:bottom, :w] = _block_idct(coefs)
    return out
