"""Distances between a generator's samples and real images, computed on features (N, D) of a feature network:
the Fréchet distance (FID's formula), the kernel distance with its unbiased estimator (KID), and precision,
recall, density and coverage on k-nearest-neighbour balls. The feature network is the caller's choice; a
domain classifier's penultimate layer for digits, Inception for photographs."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg

from pixelsmith.errors import PixelsmithError


def _check(real: torch.Tensor, fake: torch.Tensor, least: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    real, fake = torch.as_tensor(real).double(), torch.as_tensor(fake).double()
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise PixelsmithError(f"features must be (N, D) with the same D, got {tuple(real.shape)} and "
                              f"{tuple(fake.shape)}")
    if min(len(real), len(fake)) < least:
        raise PixelsmithError(f"need at least {least} real and {least} generated feature vectors, got {len(real)} "
                              f"and {len(fake)}")
    return real, fake


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) of the two feature sets' Gaussian fits (Heusel et
    al. 2017), with the matrix square root by scipy.linalg.sqrtm as pytorch-fid takes it."""
    real, fake = _check(real, fake)
    mu_r, mu_f = real.mean(0).numpy(), fake.mean(0).numpy()
    cov_r, cov_f = np.cov(real.numpy(), rowvar=False), np.cov(fake.numpy(), rowvar=False)
    with warnings.catch_warnings():  # a singular product is handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_r @ cov_f)
    if not np.isfinite(covmean).all():  # a singular product: move both off singularity a little, as pytorch-fid does
        offset = np.eye(cov_r.shape[0]) * 1e-6
        covmean = linalg.sqrtm((cov_r + offset) @ (cov_f + offset))
    covmean = covmean.real
    return float(((mu_r - mu_f) ** 2).sum() + np.trace(cov_r) + np.trace(cov_f) - 2 * np.trace(covmean))


def kernel_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): the unbiased estimate of the squared MMD with the polynomial kernel
    k(x, y) = (x.y / D + 1)^3, averaged over ``subsets`` random subsets of ``subset_size`` of each set (as
    torch-fidelity and torchmetrics do); (mean, standard deviation over the subsets)."""
    real, fake = _check(real, fake)
    size = min(subset_size, len(real), len(fake))
    g = torch.Generator().manual_seed(seed)
    d = real.shape[1]
    values = []
    for _ in range(subsets):
        x = real[torch.randperm(len(real), generator=g)[:size]]
        y = fake[torch.randperm(len(fake), generator=g)[:size]]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        off = size * (size - 1)
        values.append(float((kxx.sum() - kxx.trace()) / off + (kyy.sum() - kyy.trace()) / off - 2 * kxy.mean()))
    return float(np.mean(values)), float(np.std(values))


def _kth_neighbour(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row."""
    return torch.cat([torch.cdist(chunk, x).kthvalue(k + 1, dim=1).values for chunk in x.split(2048)])


def precision_recall_density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict[str, float]:
    """Precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020) on balls to
    the k-th nearest neighbour, as the ``prdc`` package computes them."""
    real, fake = _check(real, fake, least=k + 1)
    radius_real, radius_fake = _kth_neighbour(real, k), _kth_neighbour(fake, k)
    inside_real = torch.zeros(len(fake))  # how many real balls hold each generated sample
    inside_fake = torch.zeros(len(real), dtype=torch.bool)  # each real sample lies in some generated ball
    nearest_fake = torch.empty(len(real), dtype=torch.float64)
    for start, chunk in zip(range(0, len(real), 2048), real.split(2048)):
        dist = torch.cdist(chunk, fake)  # (real chunk, fake)
        rows = slice(start, start + len(chunk))
        inside_real += (dist < radius_real[rows, None]).sum(0)
        inside_fake[rows] = (dist < radius_fake[None, :]).any(1)
        nearest_fake[rows] = dist.min(1).values
    return {"precision": float((inside_real > 0).double().mean()), "recall": float(inside_fake.double().mean()),
            "density": float(inside_real.double().mean() / k),
            "coverage": float((nearest_fake < radius_real).double().mean())}
