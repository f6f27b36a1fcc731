"""The registry of training objectives (a training step of one kind: restore, gan, ...), timm-style like the
model registry: ``@register_objective("name")`` on a subclass of :class:`Objective`.

An objective owns its optimizers, its typed options (the ``Args`` dataclass, filled from the recipe's
``objective_args``), the model families and data sets it accepts, the fixed held-out batch of its previews and
what its previews show. The Trainer owns everything else (data order, devices, DDP, EMA, schedules,
checkpoints, logging) and never asks which objective it runs."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Callable

import torch
import torch.nn as nn

from pixelsmith.config import TrainConfig, coerce
from pixelsmith.errors import PixelsmithError
from pixelsmith.precision import autocast

_OBJECTIVES: dict[str, type["Objective"]] = {}


@dataclasses.dataclass
class NoArgs:
    """An objective without options of its own."""


class Objective:
    """Base class. Subclasses set ``families`` and ``datasets``, may define an ``Args`` dataclass, create their
    optimizers in ``__init__`` (``self.optimizers[name] = ...``) and implement ``step`` and ``preview``."""

    name = ""
    families: tuple[str, ...] = ()  # model families (registry) it trains
    datasets: tuple[str, ...] = ()  # data sets (TrainConfig.data) it reads
    Args: type = NoArgs
    example_args: dict[str, Any] = {}  # small options for the registry's tests
    example_model: str = ""  # the registered model the tests train with it ("" = the first of its family)
    example_data_args: dict[str, Any] = {}  # data_args the tests add to their small data set

    def __init__(self, cfg: TrainConfig, model: nn.Module, wrap: Callable[[nn.Module], nn.Module]) -> None:
        self.cfg, self.model = cfg, model
        self.args = self.parse_args(cfg.objective_args)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    # ---- what the Trainer asks -----------------------------------------------------------------------
    @classmethod
    def parse_args(cls, values: dict[str, Any]) -> Any:
        """The typed ``Args`` from a recipe's ``objective_args``; a one-line error names a bad key or value."""
        known = {f.name for f in dataclasses.fields(cls.Args)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PixelsmithError(f"objective '{cls.name}' has no option {', '.join(unknown)}; accepted: "
                                  f"{', '.join(sorted(known)) or 'none'}")
        hints = typing.get_type_hints(cls.Args)
        args = cls.Args(**{k: coerce(f"objective_args.{k}", v, hints[k]) for k, v in values.items()})
        check = getattr(args, "check", None)
        if check is not None:
            check()
        return args

    @classmethod
    def check_recipe(cls, cfg: TrainConfig, family: str) -> None:
        """A one-line error when the recipe pairs this objective with a model family or data set it cannot use."""
        if family not in cls.families:
            raise PixelsmithError(f"objective={cls.name} trains {' or '.join(cls.families)} models; '{cfg.model}' "
                                  f"is a '{family}' model")
        if cfg.data not in cls.datasets:
            raise PixelsmithError(f"objective={cls.name} trains on data = {' or '.join(cls.datasets)}, "
                                  f"not '{cfg.data}'")
        cls.parse_args(cfg.objective_args)

    def check_data(self, dataset) -> None:
        """A one-line error when the training data cannot feed this model (shapes, classes, size)."""
        if len(dataset) < self.cfg.batch_size:
            raise PixelsmithError(f"{self.cfg.data_root}: {len(dataset)} images, fewer than one batch "
                                  f"(batch_size={self.cfg.batch_size}); give more images or a smaller batch_size")

    def batches_per_step(self) -> int:
        """How many batches of ``batch_size`` samples one ``step`` consumes (several critic updates, ...)."""
        return 1

    def ema_target(self) -> nn.Module:
        """The module whose weights the Trainer averages when the recipe sets ``ema_decay``."""
        return self.model

    def model_card(self) -> dict[str, Any]:
        """Keys the trained model's ``config.json`` gets, saying what it does (e.g. ``{"restores": "jpeg"}``)."""
        return {}

    def step(self, batch: Any, generator: torch.Generator) -> dict[str, float]:
        """One update from ``batch`` (the data set's samples, stacked); returns the losses to log."""
        raise NotImplementedError

    def held_out(self, build_held_out: Callable[[], Any], device: torch.device) -> Any:
        """A fixed batch for the previews; ``build_held_out()`` gives the recipe's held-out data set."""
        data = build_held_out()
        samples = [data[k] for k in range(min(8, len(data)))]
        return tuple(torch.stack([torch.as_tensor(v) for v in t]).to(device) for t in zip(*samples))

    def preview(self, model: nn.Module, held_out: Any) -> tuple[torch.Tensor, int, dict[str, float]]:
        """Images (N,C,H,W) for a grid of ``nrow`` per row, and metrics to log, from ``model`` (the EMA copy when
        there is one) in eval mode."""
        raise NotImplementedError

    # ---- helpers for subclasses ----------------------------------------------------------------------
    def autocast(self):
        """bf16 autocast on the model's device when the recipe asks for it and the device computes bf16 natively
        (:mod:`pixelsmith.precision`)."""
        return autocast(self.cfg.bf16, next(self.model.parameters()).device.type)

    def adam(self, params, lr: float | None = None, betas: tuple[float, float] | None = None) -> torch.optim.Optimizer:
        """Adam with the recipe's (or the given) learning rate and betas, and the recipe's weight decay."""
        return torch.optim.Adam(params, lr=self.cfg.lr if lr is None else lr,
                                betas=tuple(self.cfg.betas if betas is None else betas),
                                weight_decay=self.cfg.weight_decay)

    def update(self, name: str, loss: torch.Tensor, params) -> None:
        """Backward, optional gradient clipping, then a step of optimizer ``name``."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        opt.step()


def check_image_shape(dataset, model: nn.Module) -> None:
    """A one-line error when the data set's images are not the shape a generative model makes."""
    args = model.config.get("args", {})
    image = torch.as_tensor(dataset[0][0])
    wanted = (args.get("channels", 1), args.get("size", 28), args.get("size", 28))
    if tuple(image.shape) != wanted:
        raise PixelsmithError(f"the data's images are {'x'.join(map(str, image.shape))} (channels x height x width) "
                              f"but the model makes {'x'.join(map(str, wanted))}; set data_args.size and "
                              f"data_args.channels to match model_args.size and model_args.channels")


def check_classes(dataset, model: nn.Module, cfg: TrainConfig) -> None:
    """A one-line error when a class-conditional model's class count is not the data's."""
    classes, wanted = getattr(dataset, "classes", None), getattr(model, "num_classes", 0)
    if wanted and classes is not None and len(classes) != wanted:
        raise PixelsmithError(f"{cfg.data_root}: {len(classes)} classes (class subfolders or labels) but the model has "
                              f"num_classes={wanted}; set model_args.num_classes={len(classes)}")


def check_generator_data(dataset, model: nn.Module, cfg: TrainConfig) -> None:
    """Both checks a (possibly class-conditional) generator's training data must pass."""
    check_image_shape(dataset, model)
    check_classes(dataset, model, cfg)


def register_objective(name: str) -> Callable[[type[Objective]], type[Objective]]:
    """Class decorator: register an :class:`Objective` subclass under ``name``."""

    def decorator(cls: type[Objective]) -> type[Objective]:
        if name in _OBJECTIVES:
            raise ValueError(f"objective '{name}' is registered twice")
        cls.name = name
        _OBJECTIVES[name] = cls
        return cls

    return decorator


def _ensure_builtin_objectives() -> None:
    # Importing the modules runs their @register_objective decorators.
    from pixelsmith.training import autoregressive, classify, diffusion, gan, predict, restore, sr, vae  # noqa: F401


def list_objectives() -> list[str]:
    """Names of the registered objectives."""
    _ensure_builtin_objectives()
    return sorted(_OBJECTIVES)


def get_objective(name: str) -> type[Objective]:
    """The objective class registered as ``name``, or a one-line error listing the known ones."""
    _ensure_builtin_objectives()
    if name not in _OBJECTIVES:
        raise PixelsmithError(f"objective='{name}' is not known; accepted: {', '.join(list_objectives())}")
    return _OBJECTIVES[name]
