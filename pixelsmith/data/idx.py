"""MNIST and Fashion-MNIST from their original IDX files (gzip or raw), read from a local folder."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelsmith import PixelsmithError

FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MIRRORS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (optionally gzipped) into an array, checking its header against its size."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise PixelsmithError(f"{path}: unreadable IDX file ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise PixelsmithError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise PixelsmithError(f"{path}: header says {shape} but the file holds {body.size} values (truncated?)")
    return body.reshape(shape)


def _find(root: Path, stem: str) -> Path | None:
    for candidate in (root / f"{stem}.gz", root / stem, root / "raw" / f"{stem}.gz", root / "raw" / stem):
        if candidate.is_file():
            return candidate
    return None


def download(root: Path, name: str) -> None:
    """Fetch the four IDX files of ``name`` into ``root`` (only when the user asked for --download)."""
    from torchvision.datasets.utils import download_url

    for stems in FILES.values():
        for stem in stems:
            if _find(root, stem) is None:
                download_url(MIRRORS[name] + stem + ".gz", str(root), filename=stem + ".gz")


class IDXDataset(Dataset):
    """Images (1,28,28) float in [0,1] and integer labels; ``key % len`` picks the item."""

    def __init__(self, root: str | Path, name: str = "mnist", train: bool = True, download: bool = False,
                 limit: int = 0) -> None:
        root = Path(root)
        if download:
            root.mkdir(parents=True, exist_ok=True)
            globals()["download"](root, name)
        paths = [_find(root, stem) for stem in FILES[train]]
        if None in paths:
            missing = FILES[train][paths.index(None)]
            raise PixelsmithError(f"{root}: {missing}(.gz) not found; point data_root at a folder with the "
                                  f"{name} IDX files or pass download=True")
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or len(images) != len(labels):
            raise PixelsmithError(f"{root}: {len(images)} images but {len(labels)} labels")
        if limit:
            images, labels = images[:limit], labels[:limit]
        self.images = torch.from_numpy(images.copy())[:, None]
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.classes = [str(c) for c in range(int(self.labels.max()) + 1)] if len(self.labels) else []

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = key % len(self.images)
        return self.images[i].float() / 255.0, self.labels[i]
