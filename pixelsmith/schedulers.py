"""Diffusion noise schedules and samplers, kept apart from the networks (as diffusers keeps ``UNet2DModel`` and
``DDIMScheduler`` apart), so the sampler is chosen at sampling time and not baked into the weights.

Each scheduler follows one protocol: ``set_timesteps(n)`` chooses the n timesteps to visit, then ``step(output,
t, sample, generator=None)`` maps the network's output at timestep ``t`` to the next, less noisy sample. The
diffusion family registers its schedulers here."""

from __future__ import annotations

import math
from typing import Protocol

import torch

from pixelsmith.errors import PixelsmithError, UsageError

SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("eps", "v")
SAMPLERS = ("ddpm", "ddim", "dpm")


class Scheduler(Protocol):
    """What a diffusion sampler provides."""

    timesteps: torch.Tensor

    def set_timesteps(self, n: int) -> None:
        """Choose the ``n`` timesteps a sampling run visits, from the noisiest down."""

    def step(self, output: torch.Tensor, t: int, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """The sample at the timestep after ``t``, given the network's ``output`` at ``t``."""


class NoiseSchedule:
    """The forward process of a model trained on ``timesteps`` steps: q(x_t | x_0) = N(sqrt(abar_t) x_0,
    (1 - abar_t) I). 'linear' is DDPM's (betas from 1e-4 to 0.02 at 1000 steps, scaled for other counts), 'cosine'
    is Nichol and Dhariwal's (s = 0.008, betas clipped at 0.999)."""

    def __init__(self, kind: str = "cosine", timesteps: int = 1000) -> None:
        if kind not in SCHEDULES:
            raise PixelsmithError(f"schedule='{kind}' is not known; accepted: {', '.join(SCHEDULES)}")
        if timesteps < 2:
            raise PixelsmithError(f"timesteps={timesteps} must be at least 2")
        self.kind, self.timesteps = kind, timesteps
        if kind == "linear":
            scale = 1000 / timesteps
            betas = torch.linspace(1e-4 * scale, 0.02 * scale, timesteps, dtype=torch.float64)
        else:
            f = torch.cos((torch.arange(timesteps + 1, dtype=torch.float64) / timesteps + 0.008) / 1.008 * math.pi / 2) ** 2
            betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
        self.alphas_cumprod = torch.cumprod(1 - betas, 0)

    def abar(self, t: int) -> float:
        """abar_t; 1 for t = -1 (the clean image)."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    def abars(self, t: torch.Tensor) -> torch.Tensor:
        """abar_t (N,) in float32 for integer timesteps ``t`` (N,), on their device."""
        return self.alphas_cumprod.to(t.device)[t].float()

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t for clean images ``x0`` (N,C,H,W), noise and integer timesteps (N,)."""
        a = self.abars(t)[:, None, None, None]
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, prediction: str) -> torch.Tensor:
        """What a network trained for ``prediction`` should output: the noise, or v = sqrt(abar) eps -
        sqrt(1 - abar) x0 (Salimans and Ho 2022)."""
        if prediction == "eps":
            return noise
        a = self.abars(t)[:, None, None, None]
        return a.sqrt() * noise - (1 - a).sqrt() * x0


class _Sampler:
    """Shared parts: the timesteps (evenly spaced from the noisiest, T-1, to the cleanest, 0: starting at T-1
    keeps few-step sampling from starting at a partly clean image (Lin et al. 2024), ending at 0 keeps the last
    jump, to the posterior mean, small) and the clipped prediction of the clean image from the network's output."""

    def __init__(self, schedule: NoiseSchedule, prediction: str = "eps") -> None:
        if prediction not in PREDICTIONS:
            raise PixelsmithError(f"prediction='{prediction}' is not known; accepted: {', '.join(PREDICTIONS)}")
        self.schedule, self.prediction = schedule, prediction
        self.timesteps = torch.arange(schedule.timesteps - 1, -1, -1)

    def set_timesteps(self, n: int) -> None:
        T = self.schedule.timesteps
        if not 1 <= n <= T:
            raise UsageError(f"steps={n} is out of range; accepted: 1 to {T} (the model's training timesteps)")
        self.timesteps = torch.round(torch.linspace(T - 1, 0, n, dtype=torch.float64)).long()

    def previous(self, t: int) -> int:
        """The timestep after ``t`` in this run (-1, the clean image, after the last)."""
        later = self.timesteps[self.timesteps < t]
        return int(later[0]) if len(later) else -1

    def predict(self, output: torch.Tensor, t: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x0 clipped to [-1, 1], the noise consistent with it) from the network's output at ``t``."""
        a = self.schedule.abar(t)
        if self.prediction == "eps":
            x0 = (x - math.sqrt(1 - a) * output) / math.sqrt(a)
        else:
            x0 = math.sqrt(a) * x - math.sqrt(1 - a) * output
        x0 = x0.clamp(-1, 1)
        return x0, (x - math.sqrt(a) * x0) / math.sqrt(1 - a)

    def step(self, output: torch.Tensor, t: int, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        return self.step_to(output, t, self.previous(t), sample, generator)

    def step_to(self, output, t, t_prev, sample, generator=None) -> torch.Tensor:
        raise NotImplementedError


def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator).to(x.device)


class DDPMScheduler(_Sampler):
    """Ancestral sampling (Ho et al. 2020) from the posterior q(x_{t'} | x_t, x0) with its variance; over fewer
    steps than training, the respaced process of Nichol and Dhariwal (2021)."""

    def step_to(self, output, t, t_prev, sample, generator=None):
        x0, _ = self.predict(output, t, sample)
        a, a_prev = self.schedule.abar(t), self.schedule.abar(t_prev)
        beta = 1 - a / a_prev
        mean = (math.sqrt(a_prev) * beta * x0 + math.sqrt(1 - beta) * (1 - a_prev) * sample) / (1 - a)
        if t_prev < 0:
            return mean
        return mean + math.sqrt(beta * (1 - a_prev) / (1 - a)) * _noise_like(sample, generator)

    def undo(self, sample: torch.Tensor, t_prev: int, t: int, generator: torch.Generator | None = None
             ) -> torch.Tensor:
        """x_t drawn from q(x_t | x_{t_prev}): noise added back, for RePaint's resampling."""
        ratio = self.schedule.abar(t) / self.schedule.abar(t_prev)
        return math.sqrt(ratio) * sample + math.sqrt(1 - ratio) * _noise_like(sample, generator)


class DDIMScheduler(_Sampler):
    """DDIM (Song et al. 2021): deterministic for eta = 0, DDPM-like noise for eta = 1."""

    def __init__(self, schedule: NoiseSchedule, prediction: str = "eps", eta: float = 0.0) -> None:
        super().__init__(schedule, prediction)
        self.eta = eta

    def step_to(self, output, t, t_prev, sample, generator=None):
        x0, eps = self.predict(output, t, sample)
        a, a_prev = self.schedule.abar(t), self.schedule.abar(t_prev)
        sigma = self.eta * math.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
        out = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - sigma ** 2, 0.0)) * eps
        return out + sigma * _noise_like(sample, generator) if sigma > 0 else out


class DPMSolverScheduler(_Sampler):
    """DPM-Solver++(2M) (Lu et al. 2022): a second-order multistep solver of the diffusion ODE in data
    prediction, first order at the first step and the last (which lands on the clean image)."""

    def set_timesteps(self, n: int) -> None:
        super().set_timesteps(n)
        self.history: list[tuple[float, torch.Tensor]] = []  # (lambda, x0) of the previous step

    def lam(self, t: int) -> float:
        a = self.schedule.abar(t)
        return 0.5 * math.log(a / (1 - a))

    def step_to(self, output, t, t_prev, sample, generator=None):
        x0, _ = self.predict(output, t, sample)
        history = getattr(self, "history", [])
        self.history = [(self.lam(t), x0)]
        if t_prev < 0:
            return x0
        a_prev, a = self.schedule.abar(t_prev), self.schedule.abar(t)
        h = self.lam(t_prev) - self.lam(t)
        d = x0
        if history:
            lam_before, x0_before = history[0]
            r = (self.lam(t) - lam_before) / h
            d = x0 + (x0 - x0_before) / (2 * r)
        return math.sqrt((1 - a_prev) / (1 - a)) * sample - math.sqrt(a_prev) * math.expm1(-h) * d


def make_scheduler(name: str, schedule: NoiseSchedule, prediction: str = "eps", eta: float = 0.0) -> _Sampler:
    """The sampler ``name`` (one of SAMPLERS) over ``schedule``; eta is DDIM's."""
    if name == "ddpm":
        return DDPMScheduler(schedule, prediction)
    if name == "ddim":
        return DDIMScheduler(schedule, prediction, eta)
    if name == "dpm":
        return DPMSolverScheduler(schedule, prediction)
    raise UsageError(f"sampler={name} is not known; accepted: {', '.join(SAMPLERS)}")
