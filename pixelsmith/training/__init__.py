"""One training loop for every model family; each family's step is plain code in ``tasks``."""

from pixelsmith.training.trainer import Trainer, train

__all__ = ["Trainer", "train"]
