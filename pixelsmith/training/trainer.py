"""The training loop shared by every family: data order, devices, DDP, bf16, EMA, LR schedule,
atomic checkpoints (every N steps, at the end, on Ctrl-C), exact resume, sample grids and metrics."""

from __future__ import annotations

import copy
import csv
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, Sampler

from pixelsmith.catalog import read_config
from pixelsmith.config import TrainConfig
from pixelsmith.data import build_dataset
from pixelsmith.errors import Cancelled, PixelsmithError
from pixelsmith.hub import from_pretrained, save_pretrained, transplant
from pixelsmith.io import atomic_write
from pixelsmith.nn import channels_last
from pixelsmith.progress import Progress, report
from pixelsmith.registry import create_model, get_entry
from pixelsmith.training.evaluation import TrainingEvaluator
from pixelsmith.training.objectives import get_objective

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_VERSION = 2  # the layout of checkpoint.pt; 1 (no version key) is still read


def ema_with_warmup(decay: float):
    """The EMA update of AveragedModel with the decay warmed up as min(decay, (1 + n) / (10 + n)) after n
    updates (timm's and diffusers' warm-up), so early evaluations do not average in the random initial weights."""

    @torch.no_grad()
    def update(ema_params, params, n_averaged) -> None:
        n = float(n_averaged)
        if ema_params and torch.is_floating_point(ema_params[0]):
            torch._foreach_lerp_(ema_params, params, 1 - min(decay, (1 + n) / (10 + n)))
        else:  # integer buffers (BatchNorm's batch count) follow the model
            for ema, current in zip(ema_params, params):
                ema.copy_(current)

    return update

class StepBatches(Sampler):
    """Keys of the samples of each step, from ``start`` on: epoch e visits the items in the order of a
    permutation seeded by (seed, e); rank r of W takes every W-th sample of the global batch. The order
    is a pure function of the step, so a resumed run sees exactly the data it would have seen."""

    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int, rank: int = 0, world: int = 1):
        self.n, self.batch_size, self.seed, self.start, self.stop, self.rank, self.world = (
            n, batch_size, seed, start, stop, rank, world)
        self._epoch, self._perm = -1, None

    def keys(self, step: int) -> list[int]:
        """The keys this rank reads at ``step``."""
        out = []
        for j in range(self.rank, self.batch_size, self.world):
            position = step * self.batch_size + j
            epoch, i = divmod(position, self.n)
            if epoch != self._epoch:
                self._epoch = epoch
                self._perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 7919 + epoch))
            out.append(epoch * self.n + int(self._perm[i]))
        return out

    def __iter__(self):
        for step in range(self.start, self.stop):
            yield self.keys(step)

    def __len__(self) -> int:
        return self.stop - self.start


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """Multiplier of the base learning rate: linear warmup, then constant or cosine decay."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return 1.0
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def check_compatible(cfg: TrainConfig) -> None:
    """A one-line error when the recipe pairs its objective with a model or data set it cannot use."""
    family = read_config(cfg.init_from)["family"] if cfg.init_from else get_entry(cfg.model).family
    get_objective(cfg.objective).check_recipe(cfg, family)


def distributed_setup() -> tuple[int, int, torch.device]:
    """Rank, world size and device; joins the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def check_checkpoint(state: Any, path: Path) -> None:
    """A one-line error unless ``state`` is a checkpoint this version of pixelsmith can continue."""
    if not isinstance(state, dict) or not {"config", "step", "model"} <= set(state):
        raise PixelsmithError(f"{path}: not a pixelsmith checkpoint (no config, step and model in it)")
    version = state.get("pixelsmith_checkpoint", 1)
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise PixelsmithError(f"{path}: a checkpoint of layout version {version}, written by a newer pixelsmith; "
                              f"this one reads versions 1 to {CHECKPOINT_VERSION}: upgrade pixelsmith")


class Trainer:
    """Runs ``cfg`` into the folder ``out``; ``resume=True`` continues from ``out/checkpoint.pt``."""

    def __init__(self, cfg: TrainConfig, out: str | Path, resume: bool = False, progress: Progress = None,
                 overrides: list[str] | None = None) -> None:
        self.out = Path(out)
        ckpt_path = self.out / CHECKPOINT
        self.checkpoint = None
        if resume:
            if not ckpt_path.is_file():
                raise PixelsmithError(f"{self.out}: no {CHECKPOINT} to resume from; start a new run without "
                                      f"resume=True")
            try:
                self.checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            except Exception as exc:  # truncated or foreign files raise several types
                raise PixelsmithError(f"{ckpt_path}: not a readable pixelsmith checkpoint ({exc.__class__.__name__})"
                                      ) from None
            check_checkpoint(self.checkpoint, ckpt_path)
            cfg = TrainConfig.from_dict(self.checkpoint["config"]).override(overrides or [])
        elif ckpt_path.is_file():
            raise PixelsmithError(f"{self.out} already holds a run; pass resume=True to continue it or choose "
                                  f"another out=FOLDER")
        self.cfg = cfg
        check_compatible(cfg)
        self.rank, self.world, self.device = distributed_setup()
        if cfg.batch_size % self.world:
            raise PixelsmithError(f"batch_size={cfg.batch_size} must be divisible by the {self.world} processes")
        self.is_main = self.rank == 0
        self.progress = progress
        torch.manual_seed(cfg.seed)

        self.model = self._build_model().to(self.device).train()
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        wrap = self._ddp_wrap if self.world > 1 else (lambda m: m)
        self.objective = get_objective(cfg.objective)(cfg, self.model, wrap)
        self.ema = (AveragedModel(self.objective.ema_target(), multi_avg_fn=ema_with_warmup(cfg.ema_decay),
                                  use_buffers=True) if cfg.ema_decay > 0 else None)
        self.schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(self.cfg, s))
                           for name, opt in self.objective.optimizers.items()}
        self.step = 0
        self.best = {"fid": float("inf"), "step": 0}  # the best evaluation so far, kept as out/best
        if self.checkpoint is not None:
            self._load_state(self.checkpoint)
        if self.world > 1 and not self.is_main:
            dist.barrier()  # rank 0 reads (and, with --download, fetches) the data first
        self.dataset = build_dataset(cfg, train=True)
        self.objective.check_data(self.dataset)
        if self.world > 1 and self.is_main:
            dist.barrier()
        self.held_out = self.objective.held_out(lambda: build_dataset(cfg, train=False), self.device)
        self.evaluator = None
        if self.is_main and self.model.config["family"] == "generate" and TrainingEvaluator.wanted(cfg):
            self.evaluator = TrainingEvaluator(cfg, self.dataset)

    def _build_model(self) -> nn.Module:
        """A new model, or one started from ``init_from``: loaded as it is when the recipe gives no model_args,
        otherwise built from the recipe with the source's weights carried over (see ``transplant``)."""
        cfg = self.cfg
        if not cfg.init_from:
            return create_model(cfg.model, **cfg.model_args)
        source = from_pretrained(cfg.init_from)
        if not cfg.model_args:
            return source
        return transplant(source, create_model(cfg.model, **cfg.model_args))

    def _ddp_wrap(self, module: nn.Module) -> nn.Module:
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids)

    # ---- state -------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue exactly: weights, optimizers, EMA, schedules, step, RNG, config."""
        return {
            "config": self.cfg.to_dict(),
            "step": self.step,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else {},
            "optimizers": {k: o.state_dict() for k, o in self.objective.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rng": torch.get_rng_state(),
            "best": dict(self.best),
            "pixelsmith_checkpoint": CHECKPOINT_VERSION,
        }

    def _load_state(self, state: dict) -> None:
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise PixelsmithError(f"the checkpoint's weights do not fit model={self.cfg.model} "
                                  f"({str(exc).splitlines()[0]})") from None
        if self.ema is not None and state["ema"]:
            self.ema.load_state_dict(self._ema_state(state["ema"]))
        try:
            for k, o in self.objective.optimizers.items():
                o.load_state_dict(state["optimizers"][k])
            for k, s in self.schedulers.items():
                s.load_state_dict(state["schedulers"][k])
        except (KeyError, ValueError) as exc:
            raise PixelsmithError(f"the checkpoint's optimizer state does not fit objective={self.cfg.objective} "
                                  f"({exc.__class__.__name__}: {exc})") from None
        torch.set_rng_state(state["rng"])
        self.step = state["step"]
        self.best = dict(state.get("best", self.best))

    def _ema_target_name(self) -> str:
        """The name of the objective's EMA target inside the model ('' for the whole model)."""
        target = self.objective.ema_target()
        return next(n for n, m in self.model.named_modules() if m is target)

    def _ema_state(self, saved: dict) -> dict:
        """The saved EMA state for today's EMA target: a checkpoint written when the EMA covered the whole model
        (before objectives chose their EMA target) keeps only the target's part."""
        name = self._ema_target_name()
        if not name:
            return saved
        prefix = f"module.{name}."
        if not any(k.startswith(prefix) for k in saved):
            return saved
        return {("module." + k[len(prefix):] if k.startswith(prefix) else k): v for k, v in saved.items()
                if k.startswith(prefix) or not k.startswith("module.")}

    def export_model(self) -> nn.Module:
        """The model to publish, with the EMA weights of the objective's EMA target when there is one, and the
        keys of the objective's model card (what the model does) in its config."""
        model = self.model
        if self.ema is not None:
            name = self._ema_target_name()
            if not name:
                model = self.ema.module
            else:
                model = copy.deepcopy(self.model)
                model.get_submodule(name).load_state_dict(self.ema.module.state_dict())
        model.config = dict(self.model.config, **self.objective.model_card())
        return model

    def save(self) -> None:
        """Checkpoint, recipe.json and exported model folder; rank 0 only, each write atomic."""
        if not self.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        state = self.state_dict()
        atomic_write(self.out / CHECKPOINT, lambda tmp: torch.save(state, tmp))
        atomic_write(self.out / "recipe.json", lambda tmp: self.cfg.to_json(tmp))
        save_pretrained(self.export_model(), self.out / "model",
                        metadata={"recipe": self.cfg.to_dict(), "step": self.step})

    # ---- logging -----------------------------------------------------------------------------------
    def _open_logs(self):
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "samples").mkdir(exist_ok=True)
        path = self.out / "metrics.csv"
        rows = []
        if path.is_file():  # on resume, drop rows past the checkpoint so the log matches the run
            with path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= self.step]

        def rewrite(tmp: str) -> None:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=["step", "metric", "value"])
                writer.writeheader()
                writer.writerows(rows)

        atomic_write(path, rewrite)
        self._csv_file = path.open("a", newline="")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=["step", "metric", "value"])
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(self.out / "tensorboard")
        except ImportError:
            self._tb = None

    def log(self, values: dict[str, float]) -> None:
        """Append metrics of the current step to metrics.csv (and TensorBoard when installed)."""
        for name, value in values.items():
            self._csv.writerow({"step": self.step, "metric": name, "value": f"{value:.6g}"})
            if self._tb is not None:
                self._tb.add_scalar(name, value, self.step)
        self._csv_file.flush()

    def preview(self) -> tuple[torch.Tensor, dict[str, float]]:
        """Write a sample grid PNG, log the preview metrics and return both."""
        from pixelsmith.io import write_image
        from pixelsmith.pipelines.generate import make_grid

        model = self.export_model()
        was_training = model.training
        model.eval()
        images, nrow, metrics = self.objective.preview(model, self.held_out)
        model.train(was_training)
        grid = make_grid(images.float().cpu(), nrow=nrow)
        write_image(self.out / "samples" / f"step_{self.step:07d}.png", grid)
        if metrics:
            self.log(metrics)
        return grid, metrics

    def evaluate(self) -> dict[str, float]:
        """Score the exported model (FID and class figures), log them, and keep it as ``out/best`` when its FID
        is the lowest so far."""
        model = self.export_model()
        metrics = self.evaluator(model)
        self.log(metrics)
        if metrics["fid"] < self.best["fid"]:
            self.best = {"fid": metrics["fid"], "step": self.step}
            save_pretrained(model, self.out / "best", metadata={"recipe": self.cfg.to_dict(), "step": self.step,
                                                                 "train_fid": metrics["fid"]})
        return metrics | {"best_fid": self.best["fid"]}

    # ---- the loop ----------------------------------------------------------------------------------
    def _catch_signals(self) -> dict:
        """Ctrl-C (SIGINT) and SIGTERM only raise a flag, so the step in flight completes before the run
        stops; a second Ctrl-C stops at once. Returns the previous handlers."""
        self._stop_requested = False
        if threading.current_thread() is not threading.main_thread():
            return {}

        def request_stop(signum, frame):
            self._stop_requested = True
            signal.signal(signal.SIGINT, signal.default_int_handler)

        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _should_stop(self) -> bool:
        """True once any rank was asked to stop (all ranks agree, so none waits in an all-reduce)."""
        if self.world == 1:
            return self._stop_requested
        flag = torch.tensor([float(self._stop_requested)], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def fit(self) -> Path:
        """Train until cfg.steps; returns the folder of the exported model. Each step sends a 'steps' event
        to ``progress`` (with the losses, and the sample grid when one is drawn). On Ctrl-C or SIGTERM, or when
        the callback raises Cancelled, the step in flight completes, a checkpoint is saved and
        KeyboardInterrupt (or Cancelled) is raised; ``resume=True`` continues the run exactly."""
        cfg = self.cfg
        per_step = cfg.batch_size * self.objective.batches_per_step()
        sampler = StepBatches(len(self.dataset), per_step, cfg.seed, self.step, cfg.steps, self.rank, self.world)
        # its own generator, so starting the loader draws nothing from the global RNG that dropout and the
        # checkpoint's RNG state share
        loader = DataLoader(self.dataset, batch_sampler=sampler, num_workers=cfg.num_workers,
                            generator=torch.Generator().manual_seed(cfg.seed))
        if self.is_main:
            self._open_logs()
        previous_handlers = self._catch_signals()
        cancelled = False
        seen, t0 = 0, time.perf_counter()
        try:
            for batch in loader:
                batch = [b.to(self.device, non_blocking=True) for b in batch] if isinstance(batch, (list, tuple)) \
                    else [batch.to(self.device)]
                if cfg.channels_last:
                    batch = [channels_last(b) for b in batch]
                # Per-step randomness (latents, ...) depends only on (seed, step, rank): nothing to restore.
                generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.step * 101 + self.rank)
                losses = self.objective.step(batch, generator)
                for s in self.schedulers.values():
                    s.step()
                if self.ema is not None:
                    self.ema.update_parameters(self.objective.ema_target())
                self.step += 1
                seen += per_step
                rate = seen / (time.perf_counter() - t0)
                grid = None
                if self.is_main:
                    if self.step % cfg.log_every == 0:
                        lr = next(iter(self.objective.optimizers.values())).param_groups[0]["lr"]
                        self.log(losses | {"lr": lr, "img_per_s": rate})
                    if self.step % cfg.sample_every == 0 or self.step == cfg.steps:
                        grid, metrics = self.preview()
                        losses = losses | metrics
                    if self.evaluator is not None and (self.step % cfg.eval_every == 0 or self.step == cfg.steps):
                        losses = losses | self.evaluate()
                try:
                    report(self.progress, "steps", self.step, cfg.steps, grid, **losses, img_per_s=rate)
                except Cancelled:
                    cancelled = self._stop_requested = True
                if self._should_stop() and self.step < cfg.steps:
                    self.save()
                    raise Cancelled(f"stopped at step {self.step}") if cancelled else KeyboardInterrupt
                if self.step % cfg.ckpt_every == 0 and self.step < cfg.steps:
                    self.save()
        finally:
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
            if self.is_main and hasattr(self, "_csv_file"):
                self._csv_file.close()
                if self._tb is not None:
                    self._tb.close()
        self.save()
        return self.out / "model"


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, overrides: list[str] | None = None,
          progress: Progress = None) -> Path:
    """Train ``cfg`` into ``out`` (resuming when asked, with ``overrides`` applied to the saved recipe);
    returns the exported model folder. ``progress`` receives a 'steps' event per step (see Trainer.fit)."""
    trainer = Trainer(cfg, out, resume=resume, progress=progress, overrides=overrides)
    try:
        folder = trainer.fit()
        if trainer.world > 1:
            dist.barrier()  # every rank waits for rank 0's final save before the group goes away
        return folder
    finally:
        if trainer.world > 1 and dist.is_initialized():
            dist.destroy_process_group()
