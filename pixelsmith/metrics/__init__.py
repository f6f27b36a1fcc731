"""Quality metrics. PSNR in torch (per image); SSIM via scikit-image for benchmarks."""

from __future__ import annotations

import torch


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, border: int = 0) -> torch.Tensor:
    """PSNR in dB per image of a batch (N,C,H,W) or for one image (C,H,W)."""
    if x.shape != y.shape:
        raise ValueError(f"psnr needs equal shapes, got {tuple(x.shape)} and {tuple(y.shape)}")
    if border:
        x, y = x[..., border:-border, border:-border], y[..., border:-border, border:-border]
    mse = ((x.double() - y.double()) ** 2).flatten(-3).mean(-1)
    return 10 * torch.log10(data_range**2 / mse.clamp_min(1e-20))


class PSNR(torch.nn.Module):
    """Module form of :func:`psnr`, averaged over the batch."""

    def __init__(self, data_range: float = 1.0, border: int = 0) -> None:
        super().__init__()
        self.data_range, self.border = data_range, border

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return psnr(x, y, self.data_range, self.border).mean()


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> float:
    """SSIM of two (C,H,W) images with scikit-image's implementation (Gaussian window, as Wang et al.)."""
    from skimage.metrics import structural_similarity

    a = x.detach().double().cpu().numpy()
    b = y.detach().double().cpu().numpy()
    return float(structural_similarity(a, b, data_range=data_range, channel_axis=0,
                                       gaussian_weights=True, sigma=1.5, use_sample_covariance=False))
