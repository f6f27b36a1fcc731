"""Typed dataclass configs: saved as JSON, loaded back, overridden from the command line (key=value)."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelsmith.errors import PixelsmithError

DATASETS = ("mnist", "fashion-mnist", "folder", "patches", "moving-mnist", "clips")


@dataclass
class TrainConfig:
    """Everything a training run needs; saved inside every checkpoint and next to the run."""

    objective: str = "gan"  # the training step, a name in the objectives registry (pixelsmith.training.objectives)
    objective_args: dict[str, Any] = field(default_factory=dict)  # the objective's own typed options
    model: str = "dcgan"  # a registered architecture (pixelsmith models)
    model_args: dict[str, Any] = field(default_factory=dict)
    init_from: str = ""  # a bundled name or model folder to start from instead of random weights
    data: str = "mnist"  # one of DATASETS
    data_root: str = "../shared/data/mnist"
    data_args: dict[str, Any] = field(default_factory=dict)  # dataset options, e.g. patch_size, sigma_max
    download: bool = False  # fetch the data set into data_root if it is missing
    steps: int = 5000
    batch_size: int = 64  # global batch, split across DDP ranks
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    schedule: str = "constant"  # "constant" or "cosine" (to min_lr_ratio * lr), after `warmup` linear steps
    warmup: int = 0
    min_lr_ratio: float = 0.01
    grad_clip: float = 0.0  # 0 disables clipping
    ema_decay: float = 0.0  # EMA of what the objective averages (0 disables it); the EMA copy is exported
    bf16: bool = False  # bf16 autocast (CPU and CUDA)
    channels_last: bool = False
    seed: int = 0
    log_every: int = 50
    sample_every: int = 500
    ckpt_every: int = 1000
    eval_every: int = 0  # steps between FID evaluations of a generative model (0 = none); the best is kept
    eval_samples: int = 2000  # samples (and training images) per evaluation
    eval_classifier: str = ""  # the feature network; "" = the data set's bundled classifier (none for folders)
    num_workers: int = 0

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        self.validate()

    def validate(self) -> None:
        """Raise a one-line error for values that cannot work."""
        if self.data not in DATASETS:
            raise PixelsmithError(f"data='{self.data}' is not known; accepted: {', '.join(DATASETS)}")
        if self.schedule not in ("constant", "cosine"):
            raise PixelsmithError(f"schedule='{self.schedule}' is not known; accepted: constant, cosine")
        for name in ("steps", "batch_size", "log_every", "sample_every", "ckpt_every"):
            if getattr(self, name) < 1:
                raise PixelsmithError(f"{name}={getattr(self, name)} must be a positive integer")
        if self.lr <= 0:
            raise PixelsmithError(f"lr={self.lr} must be > 0")
        if not 0 <= self.ema_decay < 1:
            raise PixelsmithError(f"ema_decay={self.ema_decay} must be in [0, 1)")
        if self.warmup < 0 or self.num_workers < 0 or self.eval_every < 0:
            raise PixelsmithError("warmup, num_workers and eval_every must be >= 0")
        if self.eval_every and self.eval_samples < 10:
            raise PixelsmithError(f"eval_samples={self.eval_samples} must be at least 10")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return dataclasses.asdict(self)

    def to_json(self, path: str | Path) -> None:
        """Write the config as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Build from a dict, rejecting unknown keys and values of the wrong type."""
        values = upgrade_recipe(values)
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise PixelsmithError(f"unknown config key(s) {', '.join(unknown)}; known: {', '.join(known)}")
        hints = typing.get_type_hints(cls)
        return cls(**{k: coerce(k, v, hints[k]) for k, v in values.items()})

    @classmethod
    def from_json(cls, path: str | Path) -> "TrainConfig":
        """Load a JSON recipe."""
        try:
            values = json.loads(Path(path).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PixelsmithError(f"{path}: not valid JSON ({exc})") from None
        except OSError as exc:
            raise PixelsmithError(f"{path}: cannot read ({exc.strerror})") from None
        if not isinstance(values, dict):
            raise PixelsmithError(f"{path}: a config must be a JSON object")
        return cls.from_dict(values)

    def override(self, assignments: list[str]) -> "TrainConfig":
        """A copy with ``key=value`` assignments applied; ``model_args.width=32`` sets a nested key."""
        values = self.to_dict()
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep or not key:
                raise PixelsmithError(f"override '{item}' is not key=value (for example steps=100)")
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw  # a bare string such as data_root=/tmp/digits
            head, _, sub = key.partition(".")
            if sub:
                if head not in NESTED:
                    raise PixelsmithError(f"override '{key}': only {', '.join(k + '.*' for k in NESTED)} take a "
                                          f"dotted key")
                values[head] = dict(values[head], **{sub: value})
            else:
                values[head] = value
        return TrainConfig.from_dict(values)


NESTED = ("model_args", "data_args", "objective_args")


def upgrade_recipe(values: dict[str, Any]) -> dict[str, Any]:
    """A recipe written before objectives had their own options, in today's keys: ``task`` is ``objective``
    ('denoise' was the older name of 'restore'), the top-level ``loss`` and ``data_args.gan_loss`` are
    ``objective_args.loss``."""
    values = dict(values)
    if "task" in values and "objective" not in values:
        task = values.pop("task")
        values["objective"] = "restore" if task == "denoise" else task
    args = dict(values.get("objective_args", {}))
    if "loss" in values:  # the restoration loss; GAN recipes carried its unused default ("l1")
        from pixelsmith.losses import GAN_LOSSES

        loss = values.pop("loss")
        if values.get("objective") != "gan" or loss in GAN_LOSSES:
            args["loss"] = loss  # an explicit old-style key (a key=value override) wins
    data_args = dict(values.get("data_args", {}))
    if "gan_loss" in data_args:
        args["loss"] = data_args.pop("gan_loss")
        values["data_args"] = data_args
    if args:
        values["objective_args"] = args
    return values


def coerce(key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against the annotation ``hint`` (int, float, str, bool, dict, a tuple of floats, or one of
    them or None); ints are accepted where floats are expected."""
    origin = typing.get_origin(hint) or hint
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        return coerce(key, value, next(o for o in options if o is not type(None)))
    if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if origin is tuple and isinstance(value, (list, tuple)):
        return tuple(float(v) for v in value)
    if origin in (int, str, bool, dict, list) and isinstance(value, origin) and not (origin is int and isinstance(value, bool)):
        return value
    name = getattr(origin, "__name__", str(origin))
    raise PixelsmithError(f"config key '{key}' must be {name}, got {value!r}")
