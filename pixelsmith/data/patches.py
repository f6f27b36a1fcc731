"""Random patches of clean images with on-the-fly degradation, for training restoration models."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from pixelsmith import PixelsmithError
from pixelsmith.degradations import add_gaussian_noise
from pixelsmith.nn import dihedral


def sample_generator(seed: int, key: int) -> torch.Generator:
    """A generator whose stream depends only on (seed, key): the same sample every time it is asked for."""
    return torch.Generator().manual_seed((seed * 1_000_003 + key) % (2**63))


class NoisyPatches(Dataset):
    """(noisy, clean) pairs: a random crop, flip and rotation of a clean image, plus Gaussian noise of a
    random level in [0, sigma_max]; with probability ``clip_prob`` the noisy patch is clipped to [0, 1]
    and quantised to 8 bits, as real files are."""

    def __init__(
        self,
        images: list[torch.Tensor],
        patch_size: int = 128,
        sigma_max: float = 55.0,
        clip_prob: float = 0.0,
        seed: int = 0,
    ) -> None:
        if not images:
            raise PixelsmithError("NoisyPatches needs at least one image")
        small = [tuple(im.shape[-2:]) for im in images if min(im.shape[-2:]) < patch_size]
        if small:
            raise PixelsmithError(f"patch_size={patch_size} is larger than an image of size {small[0]}")
        self.images, self.patch_size, self.sigma_max, self.clip_prob, self.seed = (
            images, patch_size, sigma_max, clip_prob, seed)

    @classmethod
    def from_folder(cls, root: Path, seed: int = 0, train: bool = True, holdout: int = 8,
                    channels: int = 1, **kwargs) -> "NoisyPatches":
        """Patches from every image under ``root``; the last ``holdout`` files (sorted) are kept for validation."""
        from pixelsmith.io import find_images, read_image

        files = find_images(root)
        if len(files) <= holdout:
            raise PixelsmithError(f"{root}: found {len(files)} images, need more than holdout={holdout}")
        files = files[:-holdout] if train else files[-holdout:]
        images = [read_image(f, channels=channels).pixels for f in files]
        return cls(images, seed=seed if train else seed + 1, **kwargs)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = sample_generator(self.seed, key)
        image = self.images[key % len(self.images)]
        h, w = image.shape[-2:]
        p = self.patch_size
        top = int(torch.randint(0, h - p + 1, (1,), generator=g))
        left = int(torch.randint(0, w - p + 1, (1,), generator=g))
        clean = dihedral(image[:, top:top + p, left:left + p], int(torch.randint(0, 8, (1,), generator=g)))
        sigma = float(torch.rand(1, generator=g)) * self.sigma_max
        realistic = float(torch.rand(1, generator=g)) < self.clip_prob
        noisy = add_gaussian_noise(clean, sigma, g, clip=realistic, quantize=realistic)
        return noisy.contiguous(), clean.contiguous()
