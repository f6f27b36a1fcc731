"""Denoising diffusion models (Ho et al. 2020): a small U-Net that predicts the noise (or v, Salimans and Ho 2022)
in an image noised to timestep t, with a sinusoidal time embedding, residual blocks, self-attention at the lowest
resolutions and an optional class embedding whose extra "null" class makes classifier-free guidance possible
(Ho and Salimans 2022). The noise schedule and the samplers live in :mod:`pixelsmith.schedulers`; the sampler is
chosen when sampling (``sampler``, ``steps``), not baked into the weights. The network works in [-1, 1]."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.errors import PixelsmithError, UsageError
from pixelsmith.models.gan import LABEL
from pixelsmith.models.generative import SampleOption, draw_labels
from pixelsmith.nn.blocks import channels_last
from pixelsmith.precision import autocast
from pixelsmith.progress import Progress, report
from pixelsmith.registry import register_model
from pixelsmith import schedulers

SAMPLE_OPTIONS = {
    "sampler": SampleOption(str, "dpm", f"the sampler: {', '.join(schedulers.SAMPLERS)}"),
    "steps": SampleOption(int, 25, "number of network evaluations (timesteps visited)", minimum=1, maximum=1000),
    "eta": SampleOption(float, 0.0, "DDIM's noise: 0 is deterministic, 1 is DDPM-like", minimum=0.0, maximum=1.0),
    "label": LABEL,
    "guidance": SampleOption(float, -1.0, "classifier-free guidance weight w (0 = none; -1: the model's default for a chosen class, "
                             "none for random classes)",
                             minimum=-1.0, maximum=20.0),
}


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding (N, dim) of timesteps (N,), as in the Transformer and DDPM."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.cos(), args.sin()], dim=1)


class GroupNorm(nn.GroupNorm):
    """GroupNorm with an optional per-sample scale and shift folded in: norm(x) * (1 + scale) + shift. On NHWC
    (channels_last) input it computes the group statistics from per-channel sums in float32 and applies one
    multiply-add in the input's dtype: PyTorch's CPU kernel is several times slower on NHWC than the
    convolutions it sits between, and NHWC is what makes those convolutions fast."""

    def forward(self, x: torch.Tensor, scale: torch.Tensor | None = None, shift: torch.Tensor | None = None
                ) -> torch.Tensor:
        if x.ndim != 4 or x.stride(1) != 1 or not x.is_contiguous(memory_format=torch.channels_last):
            y = F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
            return y if scale is None else y * (1 + scale) + shift
        n, c, h, w = x.shape
        per_group = c // self.num_groups
        rows = x.permute(0, 2, 3, 1)  # a view of the NHWC memory
        # sums over each row in x's dtype (accumulated in float32, one rounding per row), then over rows in float32:
        # a float32 copy of x would cost more than the convolutions
        sums = torch.stack([rows.sum(2).float().sum(1), (rows * rows).sum(2).float().sum(1)])
        mean, mean_sq = (sums.view(2, n, self.num_groups, per_group).sum(3) / (h * w * per_group)).unbind(0)
        rstd = (mean_sq - mean * mean).clamp(min=0).add(self.eps).rsqrt()
        a = rstd.repeat_interleave(per_group, dim=1) * self.weight.float()
        b = self.bias.float() - mean.repeat_interleave(per_group, dim=1) * a
        if scale is not None:
            gain = 1 + scale.float().view(n, c)
            a, b = a * gain, b * gain + shift.float().view(n, c)
        return torch.addcmul(b.to(x.dtype)[:, :, None, None], x, a.to(x.dtype)[:, :, None, None])


def _norm(channels: int) -> GroupNorm:
    return GroupNorm(min(8, channels // 4) or 1, channels)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the embedding added as a per-channel scale and shift after the second norm."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2, self.dropout = _norm(cout), nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h, scale, shift)
        return self.skip(x) + self.conv2(self.dropout(F.silu(h)))


class Attention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map, with a residual connection."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.norm, self.heads = _norm(channels), heads
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w).transpose(-1, -2).unbind(1)
        y = F.scaled_dot_product_attention(q, k, v)  # (n, heads, hw, c/heads)
        return x + self.out(y.transpose(-1, -2).reshape(n, c, h, w))


class Stage(nn.Module):
    """A residual block, followed by attention at the resolutions that have it."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float, attend: bool) -> None:
        super().__init__()
        self.block = ResBlock(cin, cout, emb_dim, dropout)
        self.attn = Attention(cout) if attend else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.attn(self.block(x, emb))


class UNet(nn.Module):
    """The DDPM U-Net: ``len(mults)`` resolutions of ``blocks`` stages each (width x mult channels), halving the
    side between them, skip connections from every down stage to the up path, and attention where the side is
    at most ``attention_below``."""

    def __init__(self, channels: int, size: int, width: int, mults: tuple[int, ...], blocks: int,
                 attention_below: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        if size % 2 ** (len(mults) - 1):
            raise PixelsmithError(f"size={size} cannot be halved {len(mults) - 1} times (mults={list(mults)}); "
                                  f"use a size divisible by {2 ** (len(mults) - 1)} or fewer mults")
        emb_dim, self.width, self.num_classes = 4 * width, width, num_classes
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        # index num_classes is the null class: "no label", trained by dropping labels, used for guidance
        self.class_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.stem = nn.Conv2d(channels, width, 3, padding=1)
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        skips, ch, side = [width], width, size
        for level, mult in enumerate(mults):
            stages = nn.ModuleList()
            for _ in range(blocks):
                stages.append(Stage(ch, width * mult, emb_dim, dropout, side <= attention_below))
                ch = width * mult
                skips.append(ch)
            self.down.append(stages)
            last = level == len(mults) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(ch, ch, 3, stride=2, padding=1))
            if not last:
                skips.append(ch)
                side //= 2
        self.mid = nn.ModuleList([Stage(ch, ch, emb_dim, dropout, True), Stage(ch, ch, emb_dim, dropout, False)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level, mult in reversed(list(enumerate(mults))):
            stages = nn.ModuleList()
            for _ in range(blocks + 1):
                stages.append(Stage(ch + skips.pop(), width * mult, emb_dim, dropout, side <= attention_below))
                ch = width * mult
            self.up.append(stages)
            self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1) if level else nn.Identity())
            if level:
                side *= 2
        self.head = nn.Sequential(_norm(ch), nn.SiLU(), nn.Conv2d(ch, channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.width))
        if self.class_emb is not None:
            if labels is None:
                labels = torch.full((x.shape[0],), self.num_classes, dtype=torch.long, device=x.device)
            emb = emb + self.class_emb(labels)
        h = self.stem(x)
        hs = [h]
        for stages, down in zip(self.down, self.downsample):
            for stage in stages:
                h = stage(h, emb)
                hs.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                hs.append(h)
        for stage in self.mid:
            h = stage(h, emb)
        for stages, up in zip(self.up, self.upsample):
            for stage in stages:
                h = stage(torch.cat([h, hs.pop()], dim=1), emb)
            if not isinstance(up, nn.Identity):
                h = F.interpolate(up(h), scale_factor=2.0, mode="nearest")  # the conv at the lower side: 4x cheaper
        return self.head(h)


class Diffusion(nn.Module):
    """A U-Net with its training noise schedule (``schedule``, ``timesteps``) and what it predicts
    (``prediction``: 'eps' or 'v'). ``sample`` runs any sampler of :mod:`pixelsmith.schedulers` over it."""

    def __init__(self, channels: int = 1, size: int = 28, width: int = 32, mults: tuple[int, ...] = (1, 2, 2),
                 blocks: int = 1, attention_below: int = 7, num_classes: int = 0, dropout: float = 0.1,
                 schedule: str = "cosine", timesteps: int = 1000, prediction: str = "eps",
                 guidance: float = 0.0) -> None:
        super().__init__()
        if prediction not in schedulers.PREDICTIONS:
            raise PixelsmithError(f"prediction='{prediction}' is not known; accepted: "
                                  f"{', '.join(schedulers.PREDICTIONS)}")
        self.channels, self.size, self.num_classes = channels, size, num_classes
        self.prediction, self.default_guidance = prediction, guidance
        self.schedule = schedulers.NoiseSchedule(schedule, timesteps)
        self.unet = UNet(channels, size, width, tuple(mults), blocks, attention_below, num_classes, dropout)
        self.sample_options = {k: o for k, o in SAMPLE_OPTIONS.items()
                               if num_classes or k not in ("label", "guidance")}

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The network's output (noise or v) for noisy images ``x`` in [-1, 1] at integer timesteps ``t``."""
        return self.unet(x, t, labels)

    def labels_for(self, n: int, label: int, generator: torch.Generator | None) -> torch.Tensor | None:
        """The class of each of ``n`` samples (:func:`draw_labels`)."""
        return draw_labels(n, label, self.num_classes, generator)

    def denoiser(self, labels: torch.Tensor | None, guidance: float):
        """``fn(x, t)``: the model output for the batch, guided as (1 + w) cond - w uncond when w > 0."""
        bf16 = autocast(True, next(self.parameters()).device.type)

        def fn(x: torch.Tensor, t: int) -> torch.Tensor:
            ts = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
            x = channels_last(x)  # NHWC activations: oneDNN's convolutions run without reorders
            with bf16:
                if labels is None or guidance == 0:
                    return self(x, ts, labels).float()
                null = torch.full_like(labels, self.num_classes)
                cond, uncond = self(torch.cat([x, x]), torch.cat([ts, ts]), torch.cat([labels, null])).float().chunk(2)
            return cond + guidance * (cond - uncond)

        return fn

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, progress: Progress = None,
               sampler: str = "dpm", steps: int = 25, eta: float = 0.0, label: int = -1,
               guidance: float = -1.0) -> torch.Tensor:
        """``n`` images in [0, 1] from seeded noise, in ``steps`` evaluations of ``sampler``; with classes, of
        class ``label`` (-1: every class equally often) guided with weight ``guidance``. The default (-1) guides
        with the model's weight when a class is asked for, and not at all for random classes: guidance buys class
        fidelity with diversity, which a draw over all classes should keep."""
        device = next(self.parameters()).device
        labels = self.labels_for(n, label, generator)
        labels = None if labels is None else labels.to(device)
        w = guidance if guidance >= 0 else self.default_guidance if label >= 0 else 0.0
        scheduler = schedulers.make_scheduler(sampler, self.schedule, self.prediction, eta=eta)
        scheduler.set_timesteps(steps)
        x = torch.randn(n, self.channels, self.size, self.size, generator=generator).to(device)
        fn = self.denoiser(labels, w)
        for i, t in enumerate(scheduler.timesteps.tolist()):
            x = scheduler.step(fn(x, t), t, x, generator=generator)
            report(progress, "steps", i + 1, len(scheduler.timesteps))
        return (x.clamp(-1, 1) + 1) / 2


def check_diffusion(model: nn.Module, what: str) -> "Diffusion":
    """``model`` when it is a diffusion model; a usage error naming ``what`` needs one otherwise."""
    if not isinstance(model, Diffusion):
        raise UsageError(f"{what} needs a diffusion model; model={model.config.get('name', type(model).__name__)} "
                         f"is not one")
    return model


@register_model("ddpm", family="generate",
                example_args={"width": 8, "mults": [1, 2], "attention_below": 14, "num_classes": 10, "dropout": 0.0})
def ddpm(channels: int = 1, size: int = 28, width: int = 32, mults: tuple[int, ...] = (1, 2, 2), blocks: int = 1,
         attention_below: int = 7, num_classes: int = 0, dropout: float = 0.1, schedule: str = "cosine",
         timesteps: int = 1000, prediction: str = "eps", guidance: float = 0.0) -> Diffusion:
    """Denoising diffusion U-Net (DDPM), sampled by DDPM, DDIM or DPM-Solver++; class-conditional with
    classifier-free guidance when num_classes > 0."""
    return Diffusion(channels, size, width, tuple(mults), blocks, attention_below, num_classes, dropout, schedule,
                     timesteps, prediction, guidance)
