"""Classical restoration methods, the baselines every learned model is compared with: scikit-image (TV,
wavelet, non-local means, biharmonic inpainting, Wiener, Richardson-Lucy), the ``bm3d`` package, OpenCV
(Telea and Navier-Stokes inpainting) and Pillow (bicubic and Lanczos resampling). All take and return
(C,H,W) float tensors in [0, 1]. Optional libraries are imported where used, with a clear message when missing."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from pixelsmith import PixelsmithError


def _hwc(x: torch.Tensor) -> np.ndarray:
    return x.detach().double().cpu().numpy().transpose(1, 2, 0)


def _chw(array: np.ndarray, channels: int) -> torch.Tensor:
    array = array.reshape(array.shape[0], array.shape[1], channels)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))).float().clamp(0, 1)


# ---- denoising -----------------------------------------------------------------------------------------
def in_unit_range(x: torch.Tensor) -> bool:
    """Whether every value lies within [0, 1], as a file's do: any noise in it was clipped there."""
    return 0 <= float(x.min()) and float(x.max()) <= 1


def _mad_sigma(coefficients: np.ndarray) -> float:
    coefficients = coefficients[np.nonzero(coefficients)]  # exactly-zero details are flat or masked regions
    if not coefficients.size:
        return 0.0
    return float(np.median(np.abs(coefficients)) / 0.6744897501960817)  # / Phi^-1(0.75)


def _touching(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The finest detail coefficients (of ``shape``) whose support holds one of the marked ``pixels``."""
    from scipy import ndimage

    near = ndimage.maximum_filter(pixels, size=5)[::2, ::2]
    pad = [(0, max(0, d - n)) for d, n in zip(shape, near.shape)]
    return np.pad(near, pad, mode="edge")[:shape[0], :shape[1]]


def _channel_sigma(blocks: list[np.ndarray], file_like: bool) -> float:
    """MAD noise estimate over the finest diagonal wavelet details of all ``blocks`` of one channel."""
    import pywt
    from scipy import ndimage

    details = [pywt.dwt2(b, "db2")[1][2] for b in blocks]  # as scikit-image's estimate_sigma

    def mad(keeps: list[np.ndarray] | None) -> float | None:
        kept = [d if k is None else d[k] for d, k in zip(details, keeps or [None] * len(details))]
        total = sum(k.size for k in kept)
        return _mad_sigma(np.concatenate([k.ravel() for k in kept])) if total > 100 else None

    sigma = mad(None)
    if not file_like:
        return sigma
    keeps = [~_touching((b <= 0) | (b >= 1), d.shape) for b, d in zip(blocks, details)]
    sigma = mad(keeps) or sigma
    for i, (b, d) in enumerate(zip(blocks, details)):
        mean = ndimage.uniform_filter(b, size=7)
        keeps[i] &= ~_touching((mean < 2 * sigma) | (mean > 1 - 2 * sigma), d.shape)
    return mad(keeps) or sigma


SIGMA_BLOCK, SIGMA_PIXELS = 256, 2**21  # larger images are estimated on a grid of blocks holding about this many


def _blocks(channel: np.ndarray) -> list[np.ndarray]:
    """The whole channel, or SIGMA_BLOCK squares on an even grid over it when it holds over SIGMA_PIXELS."""
    h, w = channel.shape
    if h * w <= SIGMA_PIXELS or min(h, w) < SIGMA_BLOCK:
        return [channel]
    rows = max(1, round((SIGMA_PIXELS / SIGMA_BLOCK**2 * h / w) ** 0.5))
    cols = max(1, round(SIGMA_PIXELS / SIGMA_BLOCK**2 / rows))
    tops = np.linspace(0, h - SIGMA_BLOCK, rows).astype(int)
    lefts = np.linspace(0, w - SIGMA_BLOCK, cols).astype(int)
    return [channel[t:t + SIGMA_BLOCK, x:x + SIGMA_BLOCK] for t in tops for x in lefts]


def estimate_sigmas(x: torch.Tensor) -> list[float]:
    """Noise std per channel on the 0-255 scale: Donoho's MAD estimator on the finest diagonal wavelet details,
    as scikit-image's estimate_sigma. In an image within [0, 1] (a file, whose noise was clipped) it leaves out
    the details near a pixel at 0 or 1, then those where the local mean lies within 2 sigma of 0 or 1, where
    clipping shrank the noise (compared with scikit-image's estimate in docs/tasks.md). Images over SIGMA_PIXELS
    are estimated on an even grid of blocks, which holds millions of coefficients and takes a fraction of the time."""
    file_like = in_unit_range(x)
    return [_channel_sigma(_blocks(channel), file_like) * 255.0 for channel in x.detach().double().cpu().numpy()]


def estimate_sigma(x: torch.Tensor) -> float:
    """Mean over channels of :func:`estimate_sigmas`."""
    return float(np.mean(estimate_sigmas(x)))


def bm3d_denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """BM3D (Makinen et al. 2020, the `bm3d` package) of a (C,H,W) image; colour goes through CBM3D."""
    try:
        import bm3d
    except ImportError:
        raise PixelsmithError("the bm3d baseline needs the 'bm3d' package: pip install 'pixelsmith[baselines]'") from None
    if min(x.shape[-2:]) < 16:
        raise PixelsmithError(f"BM3D needs images of at least 16x16 pixels, got {tuple(x.shape[-2:])}")
    array = x.detach().double().cpu().numpy()
    if array.shape[0] == 3:
        out = bm3d.bm3d_rgb(array.transpose(1, 2, 0), sigma / 255.0).transpose(2, 0, 1)
    else:
        out = bm3d.bm3d(array[0], sigma / 255.0)[None]
    return torch.from_numpy(np.ascontiguousarray(out)).float()


def nlm_denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Non-local means (scikit-image, fast mode) with the filter strength tuned on sigma as its docs advise."""
    from skimage.restoration import denoise_nl_means

    s = sigma / 255.0
    out = denoise_nl_means(_hwc(x), h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True,
                           channel_axis=-1)
    return _chw(out, x.shape[0])


def tv_denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Total-variation denoising (Chambolle); weight = 0.7 * sigma, the factor `benchmarks/tune_tv.py` chose."""
    from skimage.restoration import denoise_tv_chambolle

    out = denoise_tv_chambolle(_hwc(x), weight=0.7 * sigma / 255.0, channel_axis=-1)
    return _chw(out, x.shape[0])


def wavelet_denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Wavelet shrinkage (BayesShrink, soft thresholds, db1 as scikit-image's default; YCbCr for colour)."""
    from skimage.restoration import denoise_wavelet

    image = _hwc(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = denoise_wavelet(image, sigma=sigma / 255.0, method="BayesShrink", mode="soft", channel_axis=-1,
                              convert2ycbcr=x.shape[0] == 3, rescale_sigma=True)
    # BayesShrink divides by the spread of each band's details: 0/0 on a flat band, which has nothing to shrink
    return _chw(np.where(np.isfinite(out), out, image), x.shape[0])


def classical_denoise(method: str, x: torch.Tensor, sigma: float | None) -> torch.Tensor:
    """Run bm3d, nlm, tv or wavelet on a (C,H,W) image; sigma (0-255) is estimated when None."""
    sigma = estimate_sigma(x) if sigma is None else sigma
    functions = {"bm3d": bm3d_denoise, "nlm": nlm_denoise, "tv": tv_denoise, "wavelet": wavelet_denoise}
    if method not in functions:
        raise PixelsmithError(f"unknown denoising method '{method}'; accepted: {', '.join(functions)}")
    return functions[method](x, sigma).clamp(0, 1)


# ---- inpainting ----------------------------------------------------------------------------------------
def classical_inpaint(method: str, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fill the pixels where ``mask`` (1,H,W) is 1: OpenCV Telea or Navier-Stokes (radius 5, on 8-bit data as
    OpenCV requires for colour), or scikit-image's biharmonic inpainting."""
    hole = mask[0].numpy() > 0.5
    if method == "biharmonic":
        from skimage.restoration import inpaint_biharmonic

        return _chw(inpaint_biharmonic(_hwc(x), hole, channel_axis=-1), x.shape[0])
    if method in ("telea", "ns"):
        import cv2

        image = np.round(_hwc(x) * 255).astype(np.uint8)
        flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
        out = cv2.inpaint(image, hole.astype(np.uint8) * 255, 5, flag).astype(np.float64) / 255
        out = _chw(out, x.shape[0])
        return torch.where(mask > 0.5, out, x)  # known pixels keep their full precision
    raise PixelsmithError(f"unknown inpainting method '{method}'; accepted: telea, ns, biharmonic")


# ---- super-resolution ----------------------------------------------------------------------------------
def classical_upscale(method: str, x: torch.Tensor, scale: int) -> torch.Tensor:
    """Pillow's bicubic or Lanczos resampling by ``scale``, in float so no precision is lost."""
    filters = {"bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}
    if method not in filters:
        raise PixelsmithError(f"unknown super-resolution method '{method}'; accepted: {', '.join(filters)}")
    h, w = x.shape[-2:]
    channels = [Image.fromarray(c.numpy().astype(np.float32), mode="F").resize((w * scale, h * scale), filters[method])
                for c in x]
    return torch.stack([torch.from_numpy(np.asarray(c).copy()) for c in channels]).clamp(0, 1)


# ---- deblurring ----------------------------------------------------------------------------------------
def classical_deblur(method: str, x: torch.Tensor, kernel: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """Wiener deconvolution (scikit-image, balance from the noise level) or Richardson-Lucy (30 iterations)."""
    from skimage import restoration

    psf = kernel.double().numpy()
    out = []
    for c in x.double().numpy():
        padded = np.pad(c, max(psf.shape), mode="reflect")
        if method == "wiener":
            noise = max(sigma if sigma is not None else estimate_sigma(torch.from_numpy(c)[None]), 1.0) / 255.0
            result = restoration.wiener(padded, psf, balance=max(noise, 0.005) * 10, clip=True)
        elif method == "rl":
            result = restoration.richardson_lucy(padded, psf, num_iter=30, clip=True)
        else:
            raise PixelsmithError(f"unknown deblurring method '{method}'; accepted: wiener, rl")
        p = max(psf.shape)
        out.append(result[p:-p, p:-p])
    return torch.from_numpy(np.stack(out)).float().clamp(0, 1)
