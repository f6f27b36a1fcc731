"""The model store: loaded models shared by the CLI, the pipelines and the server. Thread-safe, bounded (the
least recently used model goes first), and keyed by the model's resolved folder and the modification times
and sizes of its files, so a retrained or replaced folder is loaded anew instead of serving old weights."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import torch.nn as nn

from pixelsmith.catalog import CONFIG_NAME, WEIGHTS_NAME, resolve
from pixelsmith.hub import from_pretrained

Key = tuple


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (-1, -1)
    return (stat.st_mtime_ns, stat.st_size)


class ModelStore:
    """At most ``capacity`` loaded models (in eval mode, on the CPU). Models are shared: callers must not
    change their weights or mode."""

    def __init__(self, capacity: int = 8) -> None:
        if capacity < 1:
            raise ValueError(f"capacity={capacity} must be at least 1")
        self.capacity = capacity
        self._models: OrderedDict[Key, nn.Module] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Key, threading.Lock] = {}

    def key(self, name_or_dir: str | Path) -> Key:
        """What identifies a loaded model: its resolved folder and the stamps of its two files."""
        folder = resolve(name_or_dir).resolve()
        return (str(folder), _stamp(folder / CONFIG_NAME), _stamp(folder / WEIGHTS_NAME))

    def get(self, name_or_dir: str | Path) -> nn.Module:
        """The model of a bundled name, model folder or training run, loaded once while its files are unchanged."""
        key = self.key(name_or_dir)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one thread loads a model; others asking for the same one wait for it
            with self._lock:
                if key in self._models:
                    return self._models[key]
            try:
                model = from_pretrained(key[0])
                with self._lock:
                    for old in [k for k in self._models if k[0] == key[0]]:  # an older version of the same folder
                        del self._models[old]
                    self._models[key] = model
                    while len(self._models) > self.capacity:
                        self._models.popitem(last=False)
            finally:  # also when loading failed, so a broken folder leaves no lock behind
                with self._lock:
                    self._loading.pop(key, None)
            return model

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)

    def clear(self) -> None:
        """Forget every loaded model."""
        with self._lock:
            self._models.clear()


STORE = ModelStore()


def load_model(name_or_dir: str | Path) -> nn.Module:
    """A shared model from the process's store (see :class:`ModelStore`)."""
    return STORE.get(name_or_dir)
