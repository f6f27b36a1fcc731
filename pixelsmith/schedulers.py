"""Diffusion noise schedules and samplers, kept apart from the networks (as diffusers keeps ``UNet2DModel`` and
``DDIMScheduler`` apart), so the sampler is chosen at sampling time and not baked into the weights.

Each scheduler follows one protocol: ``set_timesteps(n)`` chooses the n timesteps to visit, then ``step(output,
t, sample, generator=None)`` maps the network's output at timestep ``t`` to the next, less noisy sample. The
diffusion family registers its schedulers here."""

from __future__ import annotations

from typing import Protocol

import torch


class Scheduler(Protocol):
    """What a diffusion sampler provides."""

    timesteps: torch.Tensor

    def set_timesteps(self, n: int) -> None:
        """Choose the ``n`` timesteps a sampling run visits, from the noisiest down."""

    def step(self, output: torch.Tensor, t: int, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """The sample at the timestep after ``t``, given the network's ``output`` at ``t``."""
