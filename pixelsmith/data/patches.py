"""Random patches of clean images with on-the-fly degradation, for training restoration models."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from pixelsmith import PixelsmithError
from pixelsmith.degradations import add_gaussian_noise, check_sigma_draw, jpeg_compress, random_mask, random_sigma_map
from pixelsmith.jpeg import jpeg_condition
from pixelsmith.nn import dihedral

DEGRADATIONS = ("noise", "jpeg", "inpaint", "none")
RESTORES = {"noise": "denoise", "jpeg": "jpeg", "inpaint": "inpaint"}  # the task a model trained on each performs


def sample_generator(seed: int, key: int) -> torch.Generator:
    """A generator whose stream depends only on (seed, key): the same sample every time it is asked for."""
    return torch.Generator().manual_seed((seed * 1_000_003 + key) % (2**63))


class RestorationPatches(Dataset):
    """(degraded, condition, clean) triples: a random crop, flip and rotation of a clean image, then

    - ``noise``: Gaussian noise of a random level in [0, sigma_max] (drawn as ``random_sigma_map`` does with
      ``sigma_draw``); with ``noise_map`` the level is given to the model as a map (sigma / 255 per channel,
      sometimes varying across the patch), otherwise the condition is empty (a blind model). With probability
      ``clip_prob`` the noisy patch is clipped and quantised to 8 bits.
    - ``jpeg``: JPEG compression at a random quality in [quality_min, quality_max], ``quality_min + (quality_max
      - quality_min) * u**quality_bias`` for a uniform u (a bias above 1 favours low qualities); the condition is
      (100 - quality) / 100.
    - ``inpaint``: a random free-form, box or text mask; missing pixels are zeroed and the condition is the mask.
    - ``none``: the clean patch as it is, for objectives that degrade a whole batch at once (``super_resolve``
      downscales each batch by the scale it draws).
    """

    def __init__(self, images: list[torch.Tensor], degradation: str = "noise", patch_size: int = 128,
                 sigma_max: float = 55.0, clip_prob: float = 0.0, noise_map: bool = False, sigma_draw: str = "max",
                 quality_min: int = 10, quality_max: int = 90, quality_bias: float = 1.5, seed: int = 0) -> None:
        if not images:
            raise PixelsmithError("RestorationPatches needs at least one image")
        if degradation not in DEGRADATIONS:
            raise PixelsmithError(f"degradation='{degradation}' is not known; accepted: {', '.join(DEGRADATIONS)}")
        small = [tuple(im.shape[-2:]) for im in images if min(im.shape[-2:]) < patch_size]
        if small:
            raise PixelsmithError(f"patch_size={patch_size} is larger than an image of size {small[0]}")
        if quality_bias <= 0:
            raise PixelsmithError(f"quality_bias={quality_bias} must be > 0")
        self.images, self.degradation, self.patch_size = images, degradation, patch_size
        check_sigma_draw(sigma_draw)  # here too, so a bad recipe fails before training starts
        self.sigma_max, self.clip_prob, self.noise_map, self.sigma_draw = sigma_max, clip_prob, noise_map, sigma_draw
        self.quality_min, self.quality_max, self.quality_bias = quality_min, quality_max, quality_bias
        self.seed = seed

    @classmethod
    def from_folder(cls, root: str | Path, seed: int = 0, train: bool = True, holdout: int = 8,
                    channels: int = 1, exclude: tuple[str, ...] = (), **kwargs) -> "RestorationPatches":
        """Patches from every image under ``root`` (several folders may be joined with commas) but those whose
        path ends with one of ``exclude`` (e.g. "train400/test_135.png"); the last ``holdout`` files of each
        folder (sorted) are kept for validation."""
        from pixelsmith.io import read_image
        from pixelsmith.probe import find_images

        files = []
        for folder in str(root).split(","):
            found = [f for f in find_images(Path(folder)) if not any(f.as_posix().endswith(e) for e in exclude)]
            if len(found) <= holdout:
                raise PixelsmithError(f"{folder}: found {len(found)} images, need more than holdout={holdout}")
            files += found[:-holdout] if train else found[-holdout:]
        images = [read_image(f, channels=channels).pixels for f in files]
        return cls(images, seed=seed if train else seed + 1, **kwargs)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = sample_generator(self.seed, key)
        image = self.images[key % len(self.images)]
        h, w = image.shape[-2:]
        p = self.patch_size
        top = int(torch.randint(0, h - p + 1, (1,), generator=g))
        left = int(torch.randint(0, w - p + 1, (1,), generator=g))
        clean = dihedral(image[:, top:top + p, left:left + p], int(torch.randint(0, 8, (1,), generator=g)))
        clean = clean.contiguous()
        c = clean.shape[0]
        if self.degradation == "noise":
            sigma = random_sigma_map(c, p, p, self.sigma_max, g, draw=self.sigma_draw)
            realistic = float(torch.rand(1, generator=g)) < self.clip_prob
            degraded = add_gaussian_noise(clean, sigma, g, clip=realistic, quantize=realistic)
            cond = sigma / 255.0 if self.noise_map else torch.zeros(0, p, p)
        elif self.degradation == "jpeg":
            u = float(torch.rand(1, generator=g))
            quality = round(self.quality_min + (self.quality_max - self.quality_min) * u**self.quality_bias)
            degraded, cond = jpeg_compress(clean, quality), jpeg_condition(quality, p, p)
        elif self.degradation == "inpaint":
            cond = random_mask(p, p, g)
            degraded = clean * (1 - cond)
        else:
            degraded, cond = clean, torch.zeros(0, p, p)
        return degraded.contiguous(), cond.contiguous(), clean
