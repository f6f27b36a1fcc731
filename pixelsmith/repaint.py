"""RePaint (Lugmayr et al. 2022): inpainting with an unconditionally trained diffusion model. Each reverse step
denoises the whole image, then puts back the known pixels noised to the same level; every ``jump`` steps the
sample is sent back ``jump`` steps by adding noise and denoised again, ``resample`` times in all, so the filled
region has time to agree with what is known around it."""

from __future__ import annotations

import torch

from pixelsmith.errors import UsageError
from pixelsmith.progress import Progress, report
from pixelsmith.schedulers import DDPMScheduler


def jump_schedule(steps: int, jump: int, resample: int) -> list[int]:
    """The indices of the timesteps RePaint visits, from ``steps - 1`` down to -1 (the clean image), going back up
    ``jump`` indices ``resample - 1`` times at every multiple of ``jump`` (the paper's ``get_schedule_jump``)."""
    jumps = {k: resample - 1 for k in range(0, steps - jump, jump)}
    t, order = steps, []
    while t >= 1:
        t -= 1
        order.append(t)
        if jumps.get(t, 0) > 0:
            jumps[t] -= 1
            for _ in range(jump):
                t += 1
                order.append(t)
    return order + [-1]


@torch.no_grad()
def repaint(model, images: torch.Tensor, masks: torch.Tensor, steps: int = 100, jump: int = 10, resample: int = 5,
            seed: int = 0, progress: Progress = None) -> torch.Tensor:
    """Fill the pixels of ``images`` (N,C,H,W in [0, 1]) where ``masks`` (N,1,H,W) is 1 with samples of the
    diffusion ``model`` that agree with the other pixels, which are returned unchanged."""
    if images.shape[1:] != (model.channels, model.size, model.size):
        c, h, w = images.shape[1:]
        raise UsageError(f"the image is {h}x{w} with {c} channel(s), but the diffusion model "
                         f"{model.config.get('name', '')} fills {model.size}x{model.size} images with "
                         f"{model.channels} channel(s); give an image of its size and channels")
    for name, value, low in (("steps", steps, 2), ("jump", jump, 1), ("resample", resample, 1)):
        if value < low:
            raise UsageError(f"{name}={value} must be at least {low}")
    schedule, device = model.schedule, next(model.parameters()).device
    sampler = DDPMScheduler(schedule, model.prediction)
    sampler.set_timesteps(steps)
    levels = sampler.timesteps.flip(0).tolist()  # index k -> timestep, rising with k
    known, hole = (images.to(device) * 2 - 1), (masks.to(device) > 0.5).float()
    g = torch.Generator().manual_seed(seed)
    fn = model.denoiser(None, 0.0)
    order = jump_schedule(steps, jump, resample)
    x = torch.randn(known.shape, generator=g).to(device)
    for i, (now, then) in enumerate(zip(order, order[1:])):
        t = levels[now]
        if then < now:  # a reverse step, then the known pixels at the new noise level
            t_next = levels[then] if then >= 0 else -1
            x = sampler.step_to(fn(x, t), t, t_next, x, generator=g)
            if t_next >= 0:
                noise = torch.randn(known.shape, generator=g).to(device)
                ref = schedule.add_noise(known, noise, torch.full((known.shape[0],), t_next, device=device))
            else:
                ref = known
            x = hole * x + (1 - hole) * ref
        else:  # back up one level by adding noise
            x = sampler.undo(x, t, levels[then], generator=g)
        report(progress, "steps", i + 1, len(order) - 1)
    out = (x.clamp(-1, 1) + 1) / 2
    return torch.where(hole > 0.5, out, images.to(device))
