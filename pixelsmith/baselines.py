"""Classical restoration methods, the baselines every learned model is compared with.
Optional libraries (bm3d) are imported where used, with a clear message when missing."""

from __future__ import annotations

import numpy as np
import torch

from pixelsmith import PixelsmithError

DENOISERS = ("bm3d", "nlm")


def estimate_sigma(x: torch.Tensor) -> float:
    """Noise std on the 0-255 scale from the finest wavelet coefficients (Donoho's MAD estimator, scikit-image)."""
    from skimage.restoration import estimate_sigma as skimage_estimate

    array = x.detach().double().cpu().numpy()
    return float(np.mean(skimage_estimate(array, channel_axis=0, average_sigmas=False))) * 255.0


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

    array = x.detach().double().cpu().numpy().transpose(1, 2, 0)  # scikit-image wants channels last
    s = sigma / 255.0
    out = denoise_nl_means(array, h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True,
                           channel_axis=-1)
    return torch.from_numpy(np.ascontiguousarray(out.reshape(array.shape).transpose(2, 0, 1))).float()


def classical_denoise(method: str, x: torch.Tensor, sigma: float | None) -> torch.Tensor:
    """Run one of DENOISERS on a (C,H,W) image; sigma (0-255) is estimated when None."""
    sigma = estimate_sigma(x) if sigma is None else sigma
    if method == "bm3d":
        return bm3d_denoise(x, sigma)
    if method == "nlm":
        return nlm_denoise(x, sigma)
    raise PixelsmithError(f"unknown denoising method '{method}'; accepted: model, {', '.join(DENOISERS)}")
