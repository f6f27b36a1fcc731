"""Shared fixtures: tiny data sets the tests make themselves (no download, no ../shared/data needed)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


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
