"""DCGAN (pixelsmith.models.gan): generator and discriminator shapes and gradients, and its sampling contract
(seeded, in [0, 1], the temperature option it declares)."""

import pytest
import torch
from conftest import gen

from pixelsmith import UsageError
from pixelsmith.models.generative import check_sample_options, sample_options
from pixelsmith.registry import create_model

SMALL = {"latent_dim": 16, "width": 8}


@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes_and_gradients(channels):
    model = create_model("dcgan", channels=channels, **SMALL)
    z = torch.randn(5, 16, generator=gen(0))
    images = model.generate(z)
    assert images.shape == (5, channels, 28, 28) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    logits = model.discriminate(images)
    assert logits.shape == (5,)
    (images.square().mean() + logits.square().mean()).backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead, dead


def test_sample_is_seeded_and_follows_its_temperature():
    model = create_model("dcgan", **SMALL).eval()
    torch.manual_seed(0)
    for p in model.generator.parameters():  # weights that make latents matter (the DCGAN init is near zero)
        p.data.normal_(0, 0.2)
    a, b = model.sample(6, generator=gen(3)), model.sample(6, generator=gen(3))
    assert a.shape == (6, 1, 28, 28) and torch.equal(a, b)
    assert (a[:3] - a[3:]).abs().mean() > 0.01  # several latents, several images
    flat = model.sample(6, generator=gen(3), temperature=0.0)  # every latent is zero: one image six times
    assert torch.equal(flat, flat[:1].expand_as(flat))
    calm = model.sample(64, generator=gen(4), temperature=0.2).std(0).mean()
    wild = model.sample(64, generator=gen(4), temperature=2.0).std(0).mean()
    assert calm < wild  # the temperature scales how varied the samples are


def test_its_temperature_option_is_declared_and_checked():
    model = create_model("dcgan", **SMALL)
    option = sample_options(model)["temperature"]
    assert option.type is float and option.minimum <= option.default <= option.maximum
    assert check_sample_options(model, {"temperature": "0.5"}) == {"temperature": 0.5}
    with pytest.raises(UsageError, match="is out of range"):
        check_sample_options(model, {"temperature": option.maximum + 1})
