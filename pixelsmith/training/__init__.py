"""One training loop for every model family (``trainer``); each training step is an objective, plain code in
its own module, registered in ``objectives``."""

from pixelsmith.training.trainer import Trainer, train

__all__ = ["Trainer", "train"]
