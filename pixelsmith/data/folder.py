"""A folder of images as a data set: recursive, every format pixelsmith reads, subfolders as class labels."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image
from pixelsmith.probe import find_images, probe

log = logging.getLogger("pixelsmith")
_NOTED: set[tuple[str, int]] = set()  # folders whose resizing was already noted in this process


class ImageFolder(Dataset):
    """(image, label) pairs; images are resized to ``size`` x ``size`` (area resampling) with ``channels`` 1 or 3.
    The label is the index of the top-level subfolder (sorted); images directly in ``root`` get label 0.
    Images of another size are resized, and a note says how many."""

    def __init__(self, root: str | Path, size: int = 28, channels: int = 1) -> None:
        if channels not in (1, 3):
            raise PixelsmithError(f"data_args.channels={channels} is not supported; accepted: 1 (gray), 3 (RGB)")
        if not isinstance(size, int) or size < 1:
            raise PixelsmithError(f"data_args.size={size} must be a positive number of pixels")
        self.root = Path(root)
        self.files = find_images(self.root)
        parts = [f.relative_to(self.root).parts for f in self.files]
        self.classes = sorted({p[0] for p in parts if len(p) > 1})
        self.labels = [self.classes.index(p[0]) if len(p) > 1 else 0 for p in parts]
        self.size, self.channels = size, channels
        sizes = Counter((h.width, h.height) for h in map(probe, self.files))
        other = sum(count for shape, count in sizes.items() if shape != (size, size))
        if other and (str(self.root), size) not in _NOTED:
            _NOTED.add((str(self.root), size))
            common = ", ".join(f"{w}x{h}" for (w, h), _ in sizes.most_common(3))
            log.warning(f"{self.root}: {other} of {len(self.files)} images are not {size}x{size} (sizes: {common}"
                        f"{', ...' if len(sizes) > 3 else ''}); they are resized to {size}x{size}")
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: int) -> tuple[torch.Tensor, int]:
        i = key % len(self.files)
        if i not in self._cache:  # read each file once; small generative data sets fit in memory
            pixels = read_image(self.files[i], channels=self.channels).pixels
            self._cache[i] = F.interpolate(pixels[None], size=(self.size, self.size), mode="area")[0]
        return self._cache[i], self.labels[i]
