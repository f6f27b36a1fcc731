"""Model registry in the style of timm: ``@register_model``, ``create_model``, ``list_models``."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch.nn as nn

from pixelsmith import PixelsmithError


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one model architecture."""

    name: str
    task: str
    build: Callable[..., nn.Module]
    description: str


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, task: str) -> Callable:
    """Register a model constructor under ``name`` for ``task`` ('generate', 'denoise', ...)."""

    def decorator(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model '{name}' is registered twice")
        doc = (build.__doc__ or "").strip().splitlines()
        _MODELS[name] = ModelEntry(name, task, build, doc[0] if doc else "")
        return build

    return decorator


def _ensure_builtin_models() -> None:
    # Importing the model modules runs their @register_model decorators.
    import pixelsmith.models  # noqa: F401


def list_models(task: str | None = None) -> list[str]:
    """Names of the registered architectures, optionally only those for ``task``."""
    _ensure_builtin_models()
    return sorted(n for n, e in _MODELS.items() if task is None or e.task == task)


def get_entry(name: str) -> ModelEntry:
    """The registry entry for ``name``, or a clear error listing the known names."""
    _ensure_builtin_models()
    if name not in _MODELS:
        raise PixelsmithError(f"unknown model '{name}'; registered models: {', '.join(list_models())}")
    return _MODELS[name]


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build architecture ``name`` with keyword arguments; the model remembers them as ``model.config``."""
    entry = get_entry(name)
    signature = inspect.signature(entry.build)
    try:
        bound = signature.bind(**kwargs)
    except TypeError as exc:
        accepted = ", ".join(signature.parameters)
        raise PixelsmithError(f"bad arguments for model '{name}': {exc}; accepted: {accepted}") from None
    bound.apply_defaults()
    model = entry.build(*bound.args, **bound.kwargs)
    model.config = {"model": name, "task": entry.task, "args": dict(bound.arguments)}
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())
