"""DCGAN (pixelsmith.models.gan): generator and discriminator shapes and gradients, and its sampling contract
(seeded, in [0, 1], the temperature option it declares)."""

import pytest
import torch
from conftest import gen

from torch.nn.utils import parametrize

from pixelsmith import PixelsmithError, UsageError
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


@pytest.mark.parametrize("name", ["dcgan", "sngan", "wgangp", "cgan"])
@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 1)])
def test_every_gan_makes_each_supported_size(name, size, channels):
    model = create_model(name, size=size, channels=channels, latent_dim=8, width=4 if name in ("sngan", "cgan") else 8)
    images = model.sample(2, generator=gen(0))
    assert images.shape == (2, channels, size, size)
    labels = model.labels_for(2, -1, gen(0))
    assert model.discriminate(images, labels).shape == (2,)


def test_unsupported_sizes_are_refused():
    with pytest.raises(PixelsmithError, match="size=48 is not supported; accepted: 28, 32, 64"):
        create_model("sngan", size=48)


def test_sngan_normalises_every_discriminator_layer_and_wgangp_has_no_batchnorm_in_its_critic():
    sngan = create_model("sngan", width=4, latent_dim=8)
    layers = [m for m in sngan.discriminator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    critic = create_model("wgangp", width=8, latent_dim=8).discriminator
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in critic.modules())


def test_the_conditional_gan_draws_the_class_it_is_asked_for():
    torch.manual_seed(0)
    model = create_model("cgan", width=4, latent_dim=8, num_classes=3).eval()
    for p in model.parameters():  # random class embeddings, so the classes differ
        p.data.normal_(0, 0.3)
    assert set(sample_options(model)) == {"temperature", "label"}
    z = torch.randn(4, 8, generator=gen(1))
    one, two = model.generate(z, torch.full((4,), 1)), model.generate(z, torch.full((4,), 2))
    assert not torch.allclose(one, two)  # the generator's batch norms follow the label
    torch.testing.assert_close(model.sample(4, generator=gen(1), label=1), one)  # label=K is class K for all
    assert model.labels_for(300, -1, gen(0)).bincount().tolist() == pytest.approx([100, 100, 100], abs=30)
    images = model.generate(z, torch.zeros(4, dtype=torch.long))
    d0, d2 = model.discriminate(images, torch.zeros(4, dtype=torch.long)), model.discriminate(images, torch.full((4,), 2))
    assert not torch.allclose(d0, d2)  # the projection term reads the label
    with pytest.raises(PixelsmithError, match="label=3 is out of range; this model draws classes 0 to 2"):
        model.sample(2, label=3)
    assert "label" not in sample_options(create_model("sngan", width=4, latent_dim=8))
