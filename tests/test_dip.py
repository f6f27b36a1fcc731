"""Deep Image Prior (pixelsmith.dip): an untrained network fitted to one image; seeded, keeps the known pixels
when inpainting, stops early at the noise level when denoising, and reports each iteration."""

import torch
from conftest import gen, hole

from pixelsmith import degradations as D
from pixelsmith.dip import SkipNet, deep_image_prior


def test_skipnet_keeps_the_size_of_odd_images_and_outputs_in_range():
    net = SkipNet(cin=4, cout=3, width=8)
    out = net(torch.rand(2, 4, 37, 29, generator=gen(0)))
    assert out.shape == (2, 3, 37, 29) and out.min() >= 0 and out.max() <= 1
    out.mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_deep_image_prior_inpaints_and_keeps_known_pixels(astronaut):
    x = astronaut[:, 40:72, 40:72]
    mask = hole(32, 32)
    out = deep_image_prior(x * (1 - mask), mask=mask, iterations=30)
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32 and torch.isfinite(out).all()
    known = (mask == 0).expand_as(x)
    assert torch.allclose(out[known], x[known], atol=1e-6)
    assert out[~known].abs().sum() > 0  # the holes got the network's output, not zeros
    again = deep_image_prior(x * (1 - mask), mask=mask, iterations=30)
    assert torch.equal(out, again)  # seeded
    assert not torch.equal(out, deep_image_prior(x * (1 - mask), mask=mask, iterations=30, seed=1))


def test_denoising_stops_when_the_residual_reaches_the_noise_level(camera):
    """The discrepancy principle: with sigma given, the fit stops once the residual falls to the noise variance,
    long before the iteration budget (a fit run to the end would reproduce the noise)."""
    clean = camera[:, 200:232, 200:232]
    noisy = D.add_gaussian_noise(clean, 50, gen(1), clip=True)
    events = []
    deep_image_prior(noisy, sigma=50, iterations=400, progress=events.append)
    assert {e.stage for e in events} == {"iterations"} and all(e.total == 400 for e in events)
    assert [e.done for e in events] == list(range(1, len(events) + 1))
    assert 100 < len(events) < 400 and events[-1].info["mse"] < (50 / 255) ** 2
    assert all(e.info["mse"] >= (50 / 255) ** 2 for e in events[101:-1])  # it stops at the first, after 101
