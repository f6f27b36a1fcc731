"""Clips for next-frame prediction, each a float tensor (T, C, H, W) in [0, 1]:

- :class:`MovingMNIST`: made on the fly from MNIST digits (Srivastava et al. 2015): digits bouncing in a 64x64
  frame, each from a random position in a random direction at ``speed`` of the free range per frame (0.1 of
  the 36 free pixels, 3.6 pixels a frame, as the public set), overlapping digits combined by their maximum.
  Sequence ``key`` is a pure function of (seed, key); training digits for training, test digits for evaluation.
- :class:`ClipArray`: the public layout, a uint8 array (T, N, H, W) in a ``.npy`` file (``mnist_test_seq.npy``).
- :class:`ClipFolder`: a folder of clips, each a subfolder of frames (in name order) or a GIF file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageSequence
from torch.utils.data import Dataset

from pixelsmith.errors import PixelsmithError

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class MovingMNIST(Dataset):
    """``length`` sequences per epoch of ``frames`` frames with ``digits`` digits; ``key % length`` is the item
    within an epoch and the whole key seeds it, so every epoch brings new sequences."""

    def __init__(self, root: str | Path, train: bool = True, frames: int = 20, digits: int = 2, size: int = 64,
                 speed: float = 0.1, length: int = 10_000, seed: int = 0, download: bool = False) -> None:
        from pixelsmith.data.idx import IDXDataset

        if frames < 2 or digits < 1 or size < 28 or length < 1 or not 0 < speed <= 1:
            raise PixelsmithError(f"moving-mnist: frames={frames} (at least 2), digits={digits} (at least 1), "
                                  f"size={size} (at least 28), length={length}, speed={speed} (0 to 1]")
        self.digits = IDXDataset(root, "mnist", train=train, download=download).images[:, 0]  # (N, 28, 28) uint8
        self.frames, self.count, self.size, self.speed, self.length = frames, digits, size, speed, length
        self.seed = seed + (0 if train else 1_000_003)

    def __len__(self) -> int:
        return self.length

    def trajectory(self, rng: np.random.Generator) -> np.ndarray:
        """Top-left corners (frames, 2) of one digit bouncing inside the frame."""
        free = self.size - 28
        y, x = rng.random(2)
        theta = rng.random() * 2 * np.pi
        vy, vx = np.sin(theta), np.cos(theta)
        out = np.empty((self.frames, 2), np.int64)
        for t in range(self.frames):
            out[t] = int(round(y * free)), int(round(x * free))
            y, x = y + vy * self.speed, x + vx * self.speed
            if not 0 <= y <= 1:
                vy, y = -vy, min(max(y, 0.0), 1.0) * 2 - y
            if not 0 <= x <= 1:
                vx, x = -vx, min(max(x, 0.0), 1.0) * 2 - x
        return out

    def __getitem__(self, key: int) -> tuple[torch.Tensor]:
        rng = np.random.default_rng([self.seed, key])
        clip = np.zeros((self.frames, self.size, self.size), np.uint8)
        for _ in range(self.count):
            digit = self.digits[int(rng.integers(len(self.digits)))].numpy()
            for t, (y, x) in enumerate(self.trajectory(rng)):
                np.maximum(clip[t, y:y + 28, x:x + 28], digit, out=clip[t, y:y + 28, x:x + 28])
        return (torch.from_numpy(clip).float()[:, None] / 255,)


class ClipArray(Dataset):
    """Clips from a uint8 ``.npy`` array laid out (T, N, H, W), as the public Moving-MNIST test set."""

    def __init__(self, path: str | Path, frames: int = 20) -> None:
        path = Path(path)
        try:
            array = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise PixelsmithError(f"{path}: not a readable .npy array ({exc})") from None
        if array.ndim != 4 or array.dtype != np.uint8:
            raise PixelsmithError(f"{path}: a {array.dtype} array of shape {array.shape}; accepted: uint8 "
                                  f"(T, N, H, W), as mnist_test_seq.npy")
        if array.shape[0] < frames:
            raise PixelsmithError(f"{path}: clips of {array.shape[0]} frames, fewer than the {frames} needed")
        self.array, self.frames = array, frames

    def __len__(self) -> int:
        return self.array.shape[1]

    def __getitem__(self, key: int) -> tuple[torch.Tensor]:
        clip = np.asarray(self.array[:self.frames, key % len(self)])
        return (torch.from_numpy(clip.copy()).float()[:, None] / 255,)


def read_frames(path: str | Path, channels: int = 1) -> torch.Tensor:
    """One clip (T, C, H, W) in [0, 1] from a GIF, a folder of frames (name order) or a ``.npy`` array of shape
    (T, H, W), (T, C, H, W) or (T, 1, H, W) / public (T, N, H, W) with N = 1; a one-line error otherwise."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
        if not files:
            raise PixelsmithError(f"{path}: no frames (accepted: {', '.join(FRAME_SUFFIXES)} files)")
        frames = []
        for f in files:
            try:
                frames.append(Image.open(f))
            except OSError:
                raise PixelsmithError(f"{f}: not a readable image") from None
    elif path.suffix.lower() == ".npy":
        try:
            array = np.load(path)
        except (OSError, ValueError) as exc:
            raise PixelsmithError(f"{path}: not a readable .npy array ({exc})") from None
        if array.ndim == 4 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 3:
            raise PixelsmithError(f"{path}: an array of shape {array.shape}; accepted: (T, H, W) frames, or "
                                  f"(T, 1, H, W)")
        scale = 255.0 if array.dtype == np.uint8 else 1.0
        clip = torch.from_numpy(array.astype(np.float32) / scale)[:, None].clamp(0, 1)
        return clip.repeat(1, channels, 1, 1) if channels > 1 else clip
    elif path.is_file():
        try:
            image = Image.open(path)
            frames = [f.copy() for f in ImageSequence.Iterator(image)]
        except OSError:
            raise PixelsmithError(f"{path}: not a readable GIF or image") from None
    else:
        raise PixelsmithError(f"{path}: no such file or folder")
    mode = "L" if channels == 1 else "RGB"
    arrays = [np.asarray(f.convert(mode), np.float32) / 255 for f in frames]
    sizes = sorted({a.shape[:2] for a in arrays})
    if len(sizes) > 1:
        raise PixelsmithError(f"{path}: frames of mixed sizes {', '.join(f'{w}x{h}' for h, w in sizes)}; "
                              f"all frames of a clip must have one size")
    clip = torch.from_numpy(np.stack(arrays))
    return clip[:, None] if channels == 1 else clip.permute(0, 3, 1, 2)


class ClipFolder(Dataset):
    """Clips in a folder: subfolders of frames or GIF files; training windows of ``frames`` frames start at an
    offset that ``key`` seeds."""

    def __init__(self, root: str | Path, frames: int = 20, channels: int = 1) -> None:
        root = Path(root)
        if not root.is_dir():
            raise PixelsmithError(f"{root}: no such folder of clips")
        entries = sorted(p for p in root.iterdir() if p.is_dir() or p.suffix.lower() == ".gif")
        if not entries:
            raise PixelsmithError(f"{root}: no clips (accepted: subfolders of frames, or .gif files)")
        self.clips = [read_frames(p, channels) for p in entries]
        short = [p.name for p, c in zip(entries, self.clips) if len(c) < frames]
        if short:
            raise PixelsmithError(f"{root}: clip {short[0]} has fewer than the {frames} frames needed "
                                  f"(frames_in + frames_out)")
        sizes = sorted({tuple(c.shape[2:]) for c in self.clips})
        if len(sizes) > 1:
            raise PixelsmithError(f"{root}: clips of mixed sizes {', '.join(f'{w}x{h}' for h, w in sizes)}; "
                                  f"accepted: one size for all")
        self.frames = frames

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: int) -> tuple[torch.Tensor]:
        clip = self.clips[key % len(self)]
        start = int(np.random.default_rng(key).integers(len(clip) - self.frames + 1))
        return (clip[start:start + self.frames],)
