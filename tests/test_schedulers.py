"""The samplers of pixelsmith.schedulers against data whose ideal denoiser is known in closed form: a Gaussian
N(0, s^2) per pixel. Fed the exact noise (or v) prediction, every sampler must end at samples of that law; a
sampler with a wrong coefficient drifts from it."""

import math

import pytest
import torch

from pixelsmith import UsageError
from pixelsmith.schedulers import SAMPLERS, DDPMScheduler, NoiseSchedule, make_scheduler

STD = 0.3  # data std, small enough that clipping x0 to [-1, 1] never binds


def ideal_output(schedule: NoiseSchedule, prediction: str):
    """The network a perfect training run gives for N(0, STD^2) data: E[x0 | x_t] in closed form, as eps or v."""

    def fn(x: torch.Tensor, t: int) -> torch.Tensor:
        a = schedule.abar(t)
        x0 = math.sqrt(a) * STD ** 2 * x / (a * STD ** 2 + 1 - a)
        eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
        return eps if prediction == "eps" else math.sqrt(a) * eps - math.sqrt(1 - a) * x0

    return fn


def run(scheduler, fn, x: torch.Tensor, generator=None) -> torch.Tensor:
    for t in scheduler.timesteps.tolist():
        out = scheduler.step(fn(x, t), t, x, generator=generator)
        x = out.prev_sample if hasattr(out, "prev_sample") else out
    return x


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("sampler,steps", [("ddpm", 1000), ("ddim", 200), ("dpm", 100)])
def test_sampler_reaches_the_data_distribution(kind, prediction, sampler, steps):
    """With enough steps every sampler ends at the data's law (fewer steps trade accuracy for speed)."""
    schedule = NoiseSchedule(kind, 1000)
    scheduler = make_scheduler(sampler, schedule, prediction)
    scheduler.set_timesteps(steps)
    assert len(scheduler.timesteps) == steps and scheduler.timesteps[0] == 999 and scheduler.timesteps[-1] == 0
    assert torch.all(scheduler.timesteps[1:] < scheduler.timesteps[:-1])
    g = torch.Generator().manual_seed(0)
    x = run(scheduler, ideal_output(schedule, prediction), torch.randn(20000, 1, 1, 1, generator=g), g)
    assert abs(x.std().item() - STD) < 0.012
    assert abs(x.mean().item()) < 0.01


def diffusers_scheduler(name: str, steps: int):
    """The same sampler from diffusers, over DDPM's linear schedule."""
    import diffusers

    common = dict(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)
    if name == "ddpm":
        ref = diffusers.DDPMScheduler(**common, timestep_spacing="linspace", variance_type="fixed_small")
    elif name == "ddim":
        ref = diffusers.DDIMScheduler(**common, timestep_spacing="leading", set_alpha_to_one=True)
    else:
        ref = diffusers.DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2,
                                                    timestep_spacing="linspace", final_sigmas_type="zero",
                                                    lower_order_final=True)
    ref.set_timesteps(steps)
    return ref


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_samplers_match_diffusers_on_the_same_timesteps(sampler):
    """Step for step the same updates as diffusers' DDPMScheduler, DDIMScheduler (eta 0) and
    DPMSolverMultistepScheduler (DPM-Solver++ 2M), given the same timesteps and noise."""
    schedule = NoiseSchedule("linear", 1000)
    fn = ideal_output(schedule, "eps")
    ref = diffusers_scheduler(sampler, 10)
    mine = make_scheduler(sampler, schedule, "eps")
    mine.set_timesteps(10)
    mine.timesteps = ref.timesteps.clone()
    x = torch.randn(500, 1, 2, 2, generator=torch.Generator().manual_seed(3))
    expected = run(ref, fn, x.clone(), torch.Generator().manual_seed(4))
    torch.testing.assert_close(run(mine, fn, x.clone(), torch.Generator().manual_seed(4)), expected,
                               atol=1e-4, rtol=1e-4)


def test_ddim_without_noise_is_deterministic_and_ddpm_is_not():
    schedule = NoiseSchedule("cosine", 1000)
    fn = ideal_output(schedule, "eps")
    x0 = torch.randn(8, 1, 2, 2, generator=torch.Generator().manual_seed(1))

    def run(name, seed):
        s = make_scheduler(name, schedule, "eps")
        s.set_timesteps(10)
        x, g = x0.clone(), torch.Generator().manual_seed(seed)
        for t in s.timesteps.tolist():
            x = s.step(fn(x, t), t, x, generator=g)
        return x

    torch.testing.assert_close(run("ddim", 0), run("ddim", 1))
    assert not torch.allclose(run("ddpm", 0), run("ddpm", 1))


def test_noising_then_undoing_keeps_the_marginal():
    """RePaint's resampling: q(x_t | x_t') applied to samples of q(x_t') gives samples of q(x_t)."""
    schedule = NoiseSchedule("linear", 1000)
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(50000, generator=g)[:, None, None, None] * STD
    t_prev, t = 300, 340
    x_prev = schedule.add_noise(x0, torch.randn(x0.shape, generator=g), torch.full((x0.shape[0],), t_prev))
    x_t = DDPMScheduler(schedule).undo(x_prev, t_prev, t, generator=g)
    a = schedule.abar(t)
    assert abs(x_t.std().item() - math.sqrt(a * STD ** 2 + 1 - a)) < 0.01


def test_cosine_schedule_matches_its_definition():
    schedule = NoiseSchedule("cosine", 1000)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 100, 500, 900):
        assert schedule.abar(t) == pytest.approx(f(t + 1) / f(0), rel=1e-6)
    assert schedule.abar(-1) == 1.0


def test_bad_names_and_step_counts_are_refused():
    schedule = NoiseSchedule("linear", 100)
    with pytest.raises(UsageError, match="sampler=euler is not known; accepted: " + ", ".join(SAMPLERS)):
        make_scheduler("euler", schedule)
    with pytest.raises(UsageError, match="steps=101 is out of range; accepted: 1 to 100"):
        make_scheduler("ddim", schedule).set_timesteps(101)
    with pytest.raises(Exception, match="schedule='quadratic' is not known"):
        NoiseSchedule("quadratic")
