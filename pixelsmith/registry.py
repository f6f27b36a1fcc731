"""Model registry in the style of timm: ``@register_model``, ``create_model``, ``list_models``.

Each architecture is registered with its ``family`` (what it is for) and small ``example_args`` that build a
tiny instance quickly, so the tests loop over every registered model without knowing any by name."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

from pixelsmith.errors import PixelsmithError

FAMILIES = ("restore", "generate", "predict", "classify")


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one model architecture."""

    name: str
    family: str
    build: Callable[..., nn.Module]
    description: str
    example_args: dict[str, Any] = field(default_factory=dict)


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, family: str, example_args: dict[str, Any] | None = None) -> Callable:
    """Register a model constructor under ``name``; ``family`` is one of FAMILIES."""
    if family not in FAMILIES:
        raise ValueError(f"family='{family}' is not known; accepted: {', '.join(FAMILIES)}")

    def decorator(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model '{name}' is registered twice")
        first_paragraph = inspect.cleandoc(build.__doc__ or "").split("\n\n")[0]
        _MODELS[name] = ModelEntry(name, family, build, " ".join(first_paragraph.split()), dict(example_args or {}))
        return build

    return decorator


def _ensure_builtin_models() -> None:
    # Importing the model modules runs their @register_model decorators.
    import pixelsmith.models  # noqa: F401


def list_models(family: str | None = None) -> list[str]:
    """Names of the registered architectures, optionally only those of ``family``."""
    _ensure_builtin_models()
    return sorted(n for n, e in _MODELS.items() if family is None or e.family == family)


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
    model.config = {"model": name, "family": entry.family, "args": dict(bound.arguments)}
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())
