"""Forward models of restoration: what turns a clean image into the one a user has.

All functions take and return float tensors in [0, 1] shaped (C, H, W) or (N, C, H, W), and draw their
randomness from an explicit ``torch.Generator`` so every training pair and test input is reproducible.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from pixelsmith.errors import PixelsmithError


# ---- noise ---------------------------------------------------------------------------------------------
def add_gaussian_noise(
    clean: torch.Tensor,
    sigma: float | torch.Tensor,
    generator: torch.Generator | None = None,
    clip: bool = False,
    quantize: bool = False,
) -> torch.Tensor:
    """Add white Gaussian noise of std ``sigma`` on the 0-255 scale: a number, one level per image of a batch
    (1-D tensor), or a map broadcastable to the image (per-channel or spatially varying level).

    With ``clip=False, quantize=False`` this is the literature's protocol (noise added in float);
    ``clip=True, quantize=True`` gives what a user's 8-bit file holds.
    """
    sigma = torch.as_tensor(sigma, dtype=clean.dtype, device=clean.device)
    if sigma.ndim == 1 and clean.ndim == 4:  # one level per image of a batch
        sigma = sigma.view(-1, 1, 1, 1)
    noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype).to(clean.device)
    return finish(clean + noise * sigma / 255.0, clip, quantize)


def add_poisson_gaussian_noise(clean: torch.Tensor, peak: float, sigma: float,
                               generator: torch.Generator | None = None, clip: bool = True,
                               quantize: bool = True) -> torch.Tensor:
    """Photon (Poisson) noise of an image whose white level collects ``peak`` photons, plus Gaussian read
    noise of std ``sigma`` (0-255 scale): the noise of a camera sensor."""
    if peak <= 0:
        raise PixelsmithError(f"peak={peak} must be positive (photons at white level)")
    shot = torch.poisson(clean.clamp(0, 1) * peak, generator=generator) / peak
    return add_gaussian_noise(shot, sigma, generator, clip=clip, quantize=quantize)


def finish(image: torch.Tensor, clip: bool = True, quantize: bool = True) -> torch.Tensor:
    """Clip to [0, 1] and round to 8-bit levels, as saving a file does."""
    if clip:
        image = image.clamp(0, 1)
    if quantize:
        image = torch.round(image * 255) / 255
    return image


def smooth_field(h: int, w: int, generator: torch.Generator, cells: int = 4) -> torch.Tensor:
    """A smooth random field in [0, 1] of size (h, w): bicubic upsampling of a coarse random grid."""
    coarse = torch.rand(1, 1, cells, cells, generator=generator)
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)[0, 0].clamp(0, 1)


SIGMA_DRAWS = ("max", "uniform")


def check_sigma_draw(draw: str) -> None:
    """Refuse a noise-level draw that ``random_sigma_map`` does not know, in one line."""
    if draw not in SIGMA_DRAWS:
        raise PixelsmithError(f"sigma_draw='{draw}' is not known; accepted: {', '.join(SIGMA_DRAWS)}")


def random_sigma_map(channels: int, h: int, w: int, sigma_max: float, generator: torch.Generator,
                     varying_prob: float = 0.25, draw: str = "max") -> torch.Tensor:
    """A noise-level map (C, H, W) on the 0-255 scale: one level in [0, sigma_max], or with probability
    ``varying_prob`` a spatially varying one (a smooth field between two random levels, the lower and the
    higher of two uniform draws). ``draw`` sets the one level: ``"max"`` takes the higher of the two draws
    (density rising linearly with the level: only 1 in 9 levels is below sigma_max / 3), ``"uniform"`` the
    first draw, every level alike."""
    check_sigma_draw(draw)
    first, second = (float(torch.rand(1, generator=generator)) * sigma_max for _ in range(2))
    lo, hi = sorted((first, second))
    if float(torch.rand(1, generator=generator)) < varying_prob:
        level = lo + (hi - lo) * smooth_field(h, w, generator)
        return level.expand(channels, h, w).clone()
    return torch.full((channels, h, w), hi if draw == "max" else first)


# ---- blur and downscaling ------------------------------------------------------------------------------
def gaussian_kernel(sigma: float, size: int | None = None) -> torch.Tensor:
    """A normalised isotropic Gaussian blur kernel (size defaults to 2*ceil(3*sigma)+1)."""
    if sigma <= 0:
        raise PixelsmithError(f"gaussian kernel sigma={sigma} must be positive")
    size = size or 2 * math.ceil(3 * sigma) + 1
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    k = g[:, None] * g[None, :]
    return (k / k.sum()).float()


def motion_kernel(length: float, angle: float, size: int | None = None) -> torch.Tensor:
    """A normalised linear motion-blur kernel: a line of ``length`` pixels at ``angle`` degrees,
    drawn with 8x supersampling for sub-pixel accuracy."""
    if length < 1:
        raise PixelsmithError(f"motion kernel length={length} must be at least 1 pixel")
    size = size or int(math.ceil(length)) // 2 * 2 + 1
    ss = 8
    canvas = Image.new("F", (size * ss, size * ss), 0)
    c = size * ss / 2
    dx, dy = math.cos(math.radians(angle)) * length * ss / 2, -math.sin(math.radians(angle)) * length * ss / 2
    ImageDraw.Draw(canvas).line([(c - dx, c - dy), (c + dx, c + dy)], fill=1.0, width=ss)
    k = torch.from_numpy(np.asarray(canvas, dtype=np.float32).copy()).view(1, 1, size * ss, size * ss)
    k = F.avg_pool2d(k, ss)[0, 0]
    k = (k + k.flip(0, 1)) / 2  # Pillow's thick lines sit up to 1/8 px off centre; a line is point-symmetric
    return k / k.sum()


KERNEL_SPECS = "gaussian:SIGMA (0 < SIGMA <= 15), motion:LENGTH:ANGLE (1 <= LENGTH <= 101) or an image file"


def parse_kernel(spec: str, name: str = "kernel") -> torch.Tensor:
    """A blur kernel from 'gaussian:SIGMA', 'motion:LENGTH:ANGLE' or an image file (normalised to sum 1); errors
    call the spec by the parameter ``name`` that gave it."""
    from pathlib import Path

    from pixelsmith.errors import UsageError

    parts = spec.split(":")
    try:
        values = [float(v) for v in parts[1:]]
    except ValueError:
        raise UsageError(f"{name}={spec} is not a kernel; accepted: {KERNEL_SPECS}") from None
    if not all(math.isfinite(v) for v in values):
        raise UsageError(f"{name}={spec} holds a value that is not a finite number; accepted: {KERNEL_SPECS}")
    if parts[0] == "gaussian" and len(parts) == 2:
        if not 0 < values[0] <= 15:
            raise UsageError(f"{name}={spec}: sigma out of range; accepted: {KERNEL_SPECS}")
        return gaussian_kernel(values[0])
    if parts[0] == "motion" and len(parts) == 3:
        if not 1 <= values[0] <= 101:
            raise UsageError(f"{name}={spec}: length out of range; accepted: {KERNEL_SPECS}")
        return motion_kernel(values[0], values[1])
    if Path(spec).is_file():
        from pixelsmith.io import read_image

        k = read_image(spec, channels=1).pixels[0]
        if k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0 or k.sum() <= 0 or max(k.shape) > 101:
            raise UsageError(f"{name}={spec}: a kernel image must have odd sides of at most 101 px and a non-zero "
                             f"sum, got {tuple(k.shape)}")
        return k / k.sum()
    raise UsageError(f"{name}={spec} is not a kernel; accepted: {KERNEL_SPECS}")


def blur(image: torch.Tensor, kernel: torch.Tensor, mode: str = "circular") -> torch.Tensor:
    """Convolve every channel with ``kernel`` (odd-sized); ``mode`` is the boundary ('circular' as in the
    deblurring literature, or 'reflect'/'replicate')."""
    squeeze = image.ndim == 3
    x = image[None] if squeeze else image
    kh, kw = kernel.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise PixelsmithError(f"blur kernel must have odd sides, got {kh}x{kw}")
    c = x.shape[1]
    x = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2), mode=mode)
    weight = kernel.flip(0, 1).to(x.dtype).expand(c, 1, kh, kw)  # flip: true convolution, not correlation
    out = F.conv2d(x, weight, groups=c)
    return out[0] if squeeze else out


def bicubic_downscale(image: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic downscaling with antialiasing by an integer factor (MATLAB ``imresize`` style, as SR papers use);
    the image is cropped to a multiple of ``scale`` first."""
    squeeze = image.ndim == 3
    x = image[None] if squeeze else image
    h, w = x.shape[-2:]
    x = x[..., : h - h % scale, : w - w % scale]
    out = F.interpolate(x, scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False)
    return out[0] if squeeze else out


def bicubic_upscale(image: torch.Tensor, scale: int, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Bicubic upscaling by ``scale`` (or to ``size``), clipped to [0, 1]."""
    squeeze = image.ndim == 3
    x = image[None] if squeeze else image
    size = size or (x.shape[-2] * scale, x.shape[-1] * scale)
    out = F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp(0, 1)
    return out[0] if squeeze else out


# ---- JPEG ----------------------------------------------------------------------------------------------
def jpeg_compress(image: torch.Tensor, quality: int, subsampling: int = 2) -> torch.Tensor:
    """Encode (C, H, W) in [0, 1] as a JPEG of ``quality`` (1-95) with Pillow's libjpeg and decode it again.
    Colour images use 4:2:0 chroma subsampling by default, as cameras and the web do."""
    if not 1 <= quality <= 100:
        raise PixelsmithError(f"JPEG quality {quality} is out of range; accepted: 1 to 100")
    array = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=int(quality), subsampling=subsampling)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
    decoded = decoded[..., None] if decoded.ndim == 2 else decoded
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).float() / 255


# ---- masks (1 = missing) -------------------------------------------------------------------------------
def _rng(generator: torch.Generator) -> np.random.Generator:
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))


def stroke_mask(h: int, w: int, generator: torch.Generator, strokes: int | None = None,
                max_width: int | None = None) -> torch.Tensor:
    """Free-form brush strokes (random walks of thick lines with round joints), as in DeepFill v2."""
    rng = _rng(generator)
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    max_width = max_width or max(4, min(h, w) // 12)
    for _ in range(strokes or int(rng.integers(1, 5))):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        width = int(rng.integers(max(2, max_width // 3), max_width + 1))
        for _ in range(int(rng.integers(2, 8))):
            angle = rng.uniform(0, 2 * math.pi)
            length = rng.uniform(0.05, 0.25) * min(h, w)
            nx = float(np.clip(x + length * math.cos(angle), 0, w - 1))
            ny = float(np.clip(y + length * math.sin(angle), 0, h - 1))
            draw.line([(x, y), (nx, ny)], fill=255, width=width)
            draw.ellipse([nx - width / 2, ny - width / 2, nx + width / 2, ny + width / 2], fill=255)
            x, y = nx, ny
    return torch.from_numpy(np.asarray(canvas) > 127).float()[None]


def box_mask(h: int, w: int, generator: torch.Generator, max_fraction: float = 0.3) -> torch.Tensor:
    """One axis-aligned rectangle covering up to ``max_fraction`` of each side."""
    rng = _rng(generator)
    bh, bw = (int(rng.integers(max(1, int(s * 0.05)), max(2, int(s * max_fraction)) + 1)) for s in (h, w))
    top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    mask = torch.zeros(1, h, w)
    mask[:, top:top + bh, left:left + bw] = 1
    return mask


def pixel_mask(h: int, w: int, generator: torch.Generator, fraction: float = 0.5) -> torch.Tensor:
    """Each pixel missing independently with probability ``fraction``."""
    return (torch.rand(1, h, w, generator=generator) < fraction).float()


def text_mask(h: int, w: int, generator: torch.Generator, size: int | None = None) -> torch.Tensor:
    """Lines of random text drawn over the image, as in text-removal benchmarks."""
    rng = _rng(generator)
    size = size or max(10, min(h, w) // 10)
    font = ImageFont.load_default(size=size)
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    y = float(rng.uniform(0, size))
    while y < h:
        text = "".join(rng.choice(list(letters + "  ")) for _ in range(max(4, w // (size // 2))))
        draw.text((float(rng.uniform(-size, size)), y), text, fill=255, font=font)
        y += size * float(rng.uniform(1.2, 2.5))
    return torch.from_numpy(np.asarray(canvas) > 127).float()[None]


MASKS = {"strokes": stroke_mask, "box": box_mask, "pixels": pixel_mask, "text": text_mask}


def random_mask(h: int, w: int, generator: torch.Generator,
                kinds: tuple[str, ...] = ("strokes", "box", "text", "pixels")) -> torch.Tensor:
    """A mask of a kind drawn at random from ``kinds`` (random pixels: 30-90% missing); never empty, never
    covering everything."""
    kind = kinds[int(torch.randint(0, len(kinds), (1,), generator=generator))]
    if kind == "pixels":
        mask = pixel_mask(h, w, generator, 0.3 + 0.6 * float(torch.rand(1, generator=generator)))
    else:
        mask = MASKS[kind](h, w, generator)
    if mask.sum() == 0:
        mask[:, h // 2, w // 2] = 1
    if mask.min() == 1:
        mask[:, 0, 0] = 0
    return mask
