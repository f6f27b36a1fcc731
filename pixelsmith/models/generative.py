"""The contract every generative model keeps, so ``generate()``, the CLI and the server pass sampling options
through without knowing the family: ``sample(n, *, generator=None, progress=None, **options)`` returns (N,C,H,W)
images in [0, 1], and ``sample_options`` declares the options it takes (class labels, steps, guidance,
temperature, ...). Diffusion noise schedules live apart from the networks, in ``pixelsmith.schedulers``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from pixelsmith.errors import UsageError


@dataclass(frozen=True)
class SampleOption:
    """One sampling option: its type (int, float or str), default, accepted range and a one-line help."""

    type: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None


def sample_options(model: nn.Module) -> dict[str, SampleOption]:
    """The options ``model.sample`` accepts (none when it declares none)."""
    return dict(getattr(model, "sample_options", {}))


def check_sample_options(model: nn.Module, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` converted to their declared types; a usage error names an unknown option or a bad value."""
    declared = sample_options(model)
    checked = {}
    for name, value in options.items():
        if name not in declared:
            accepted = ", ".join(f"{k} ({o.help})" for k, o in declared.items()) or "none"
            raise UsageError(f"{name}={value}: this model takes no sampling option '{name}'; accepted: {accepted}")
        option = declared[name]
        try:
            converted = option.type(value)
        except (TypeError, ValueError):
            raise UsageError(f"{name}={value} is not a valid {option.type.__name__}") from None
        if ((option.minimum is not None and converted < option.minimum)
                or (option.maximum is not None and converted > option.maximum)):
            raise UsageError(f"{name}={value} is out of range; accepted: {option.minimum} to {option.maximum}")
        checked[name] = converted
    return checked


def draw_labels(n: int, label: int, num_classes: int, generator: torch.Generator | None) -> torch.Tensor | None:
    """The class of each of ``n`` samples: ``label`` for all, or when it is -1 every class equally often (as
    near as ``n`` allows) in a seeded random order; None for a model without classes."""
    if not num_classes:
        return None
    if label >= num_classes:
        raise UsageError(f"label={label} is out of range; this model draws classes 0 to {num_classes - 1} "
                         f"(or -1 for a random class each)")
    if label >= 0:
        return torch.full((n,), label, dtype=torch.long)
    start = int(torch.randint(num_classes, (1,), generator=generator))  # so the remainder's classes vary by call
    return ((torch.arange(n) + start) % num_classes)[torch.randperm(n, generator=generator)]
