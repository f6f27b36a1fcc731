"""A folder of images as a data set: recursive, every format pixelsmith reads, subfolders as class labels."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from pixelsmith.io import read_image
from pixelsmith.probe import find_images


class ImageFolder(Dataset):
    """(image, label) pairs; images are resized to ``size`` x ``size`` (area resampling) with ``channels`` 1 or 3.
    The label is the index of the top-level subfolder (sorted); images directly in ``root`` get label 0."""

    def __init__(self, root: str | Path, size: int = 28, channels: int = 1) -> None:
        self.root = Path(root)
        self.files = find_images(self.root)
        tops = sorted({f.relative_to(self.root).parts[0] for f in self.files if len(f.relative_to(self.root).parts) > 1})
        self.classes = tops
        self.labels = [tops.index(f.relative_to(self.root).parts[0]) if len(f.relative_to(self.root).parts) > 1 else 0
                       for f in self.files]
        self.size, self.channels = size, channels
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: int) -> tuple[torch.Tensor, int]:
        i = key % len(self.files)
        if i not in self._cache:  # read each file once; small generative data sets fit in memory
            pixels = read_image(self.files[i], channels=self.channels).pixels
            self._cache[i] = F.interpolate(pixels[None], size=(self.size, self.size), mode="area")[0]
        return self._cache[i], self.labels[i]
