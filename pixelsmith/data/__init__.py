"""Data sets. Every data set maps an integer key to a sample; key % len picks the item and the key
seeds its randomness, so an epoch's crops and noise are a pure function of (seed, key)."""

from __future__ import annotations

from torch.utils.data import Dataset

from pixelsmith import PixelsmithError
from pixelsmith.config import TrainConfig


def build_dataset(cfg: TrainConfig, train: bool = True) -> Dataset:
    """The training (or held-out) data set that ``cfg`` names."""
    args = dict(cfg.data_args)
    try:
        return _build(cfg, args, train)
    except TypeError as exc:  # an unknown or misspelt data_args key
        raise PixelsmithError(f"bad data_args for data='{cfg.data}': {exc}") from None


def _build(cfg: TrainConfig, args: dict, train: bool) -> Dataset:
    if cfg.data in ("mnist", "fashion-mnist"):
        from pixelsmith.data.idx import IDXDataset

        return IDXDataset(cfg.data_root, name=cfg.data, train=train, download=cfg.download, **args)
    if cfg.data == "folder":
        from pixelsmith.data.folder import ImageFolder

        return ImageFolder(cfg.data_root, **args)
    if cfg.data == "patches":
        from pixelsmith.data.patches import RestorationPatches

        return RestorationPatches.from_folder(cfg.data_root, seed=cfg.seed, train=train, **args)
    if cfg.data == "moving-mnist":
        from pixelsmith.data.clips import MovingMNIST

        return MovingMNIST(cfg.data_root, train=train, seed=cfg.seed, download=cfg.download, **args)
    if cfg.data == "clips":  # a folder of clips, or a .npy array (T, N, H, W)
        from pixelsmith.data.clips import ClipArray, ClipFolder

        return (ClipArray if str(cfg.data_root).endswith(".npy") else ClipFolder)(cfg.data_root, **args)
    raise PixelsmithError(f"data='{cfg.data}' is not known")
