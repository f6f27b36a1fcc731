"""Shared fixtures and helpers: tiny data sets and images the tests make themselves (no download, no
../shared/data needed). Import the helpers with ``from conftest import gen, hole, run_main, ...``."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def gen(seed: int = 0) -> torch.Generator:
    """A seeded CPU generator."""
    return torch.Generator().manual_seed(seed)


def hole(h: int, w: int) -> torch.Tensor:
    """A (1,H,W) hole mask (1 = missing): a block in the upper half and a one-pixel scratch across the image."""
    mask = torch.zeros(1, h, w)
    mask[:, h // 4:h // 2, w // 3:2 * w // 3] = 1
    mask[:, 3 * h // 4, :] = 1
    return mask


def saved_jpeg(plane: torch.Tensor, path, **options) -> torch.Tensor:
    """Save a (H, W) plane as a gray JPEG file and read its decoded pixels back."""
    from PIL import Image

    Image.fromarray((plane * 255).round().byte().numpy()).save(path, format="JPEG", **options)
    return torch.from_numpy(np.array(Image.open(path))).float() / 255


def coefficient_steps(plane: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """The JPEG DCT coefficients (orthonormal 8x8 DCT-II of the 0-255 pixels) of every full block, in
    quantisation steps of ``table``; computed with scipy, independently of the code under test."""
    from scipy.fft import dctn

    h, w = plane.shape[0] // 8 * 8, plane.shape[1] // 8 * 8
    blocks = (plane[:h, :w].double() * 255 - 128).reshape(h // 8, 8, w // 8, 8).permute(0, 2, 1, 3)
    return torch.from_numpy(dctn(blocks.numpy(), axes=(2, 3), norm="ortho")) / table


def inside_intervals(plane: torch.Tensor, decoded: torch.Tensor, table: torch.Tensor,
                     tol: float = 1e-4) -> torch.Tensor:
    """Which full-block DCT coefficients of ``plane`` lie in the quantisation intervals of the decoded file's."""
    return (coefficient_steps(plane, table) - coefficient_steps(decoded, table).round()).abs() <= 0.5 + tol


def gan_recipe(root, **kw):
    """A tiny DCGAN recipe on the MNIST-layout folder ``root`` (see tiny_mnist)."""
    from pixelsmith.config import TrainConfig

    values = dict(objective="gan", model="dcgan", model_args={"width": 8, "latent_dim": 16}, data="mnist",
                  data_root=str(root), steps=6, batch_size=8, lr=1e-3, schedule="cosine", warmup=2,
                  ema_decay=0.9, log_every=1, sample_every=2, ckpt_every=100, seed=1)
    return TrainConfig(**{**values, **kw})


def restore_recipe(root, **kw):
    """A tiny ResUNet denoising recipe on the image folder ``root`` (see gray_folder)."""
    from pixelsmith.config import TrainConfig

    values = dict(objective="restore", model="resunet", model_args={"widths": [8, 16], "blocks": 1}, data="patches",
                  data_root=str(root), data_args={"patch_size": 32, "holdout": 2, "clip_prob": 0.5}, steps=6,
                  batch_size=4, lr=1e-3, betas=(0.9, 0.999), schedule="cosine", warmup=2, ema_decay=0.9,
                  grad_clip=1.0, log_every=1, sample_every=3, ckpt_every=100, seed=2)
    return TrainConfig(**{**values, **kw})


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write an IDX file of unsigned bytes, gzipped (the format of the original MNIST files)."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    """An MNIST-layout folder of 64 train / 16 test random 28x28 'digits' with labels 0-9."""
    rng = np.random.default_rng(0)
    root = tmp_path / "mnist"
    root.mkdir()
    for prefix, n in (("train", 64), ("t10k", 16)):
        images = np.zeros((n, 28, 28), np.uint8)
        for i in range(n):  # a bright blob at a random place, so batches differ
            y, x = rng.integers(4, 20, 2)
            images[i, y:y + 8, x:x + 6] = 255
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    return root


@pytest.fixture
def gray_folder(tmp_path: Path) -> Path:
    """A folder of 12 gray 64x64 PNG images cut from scikit-image's camera."""
    from PIL import Image
    from skimage import data

    camera = data.camera()
    root = tmp_path / "gray"
    root.mkdir()
    for i in range(12):
        y, x = divmod(i, 4)
        Image.fromarray(camera[y * 128:y * 128 + 64, x * 128:x * 128 + 64]).save(root / f"{i:02d}.png")
    return root


@pytest.fixture
def camera() -> torch.Tensor:
    """scikit-image's camera as (1,H,W) float in [0,1]."""
    from skimage import data

    return torch.from_numpy(data.camera()).float()[None] / 255.0


@pytest.fixture
def astronaut() -> torch.Tensor:
    """A 96x128 crop of scikit-image's astronaut (face and flag) as (3,H,W) float in [0,1]."""
    from skimage import data

    return torch.from_numpy(data.astronaut()[40:136, 160:288].copy()).permute(2, 0, 1).float() / 255.0


def run_main(capsys, *args) -> tuple[int, str, str]:
    """Run the CLI in this process (no interpreter start-up): exit status, stdout, stderr."""
    from pixelsmith.cli import main

    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
