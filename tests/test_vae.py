"""The VAE (pixelsmith.models.vae) and its objective: likelihoods that are proper distributions, bounds in the
right order, the KL term's weight (beta, warm-up), and sampling from the prior."""

import math

import pytest
import torch
from conftest import gen

from pixelsmith import PixelsmithError
from pixelsmith.config import TrainConfig
from pixelsmith.models.vae import discretized_logistic_log_prob
from pixelsmith.registry import create_model
from pixelsmith.training.objectives import get_objective

SMALL = {"latent_dim": 4, "width": 4, "hidden": 16}


def test_the_discretized_logistic_sums_to_one_over_the_256_values():
    values = torch.arange(256).float().view(256, 1) / 255
    for mean, log_scale in ((0.0, -2.0), (0.7, -4.0), (-1.0, 0.5)):
        p = discretized_logistic_log_prob(values, torch.full_like(values, mean), torch.full_like(values, log_scale)).exp()
        assert p.sum().item() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("likelihood", ["bernoulli", "logistic"])
def test_bounds_are_ordered_and_meet_at_one_sample(likelihood):
    torch.manual_seed(0)
    model = create_model("vae", likelihood=likelihood, **SMALL).eval()
    x = torch.rand(6, 1, 28, 28, generator=gen(0))
    x = (x > 0.5).float() if likelihood == "bernoulli" else (x * 255).round() / 255
    elbo, iwae = model.log_likelihood(x, k=200, generator=gen(1))
    assert elbo.shape == iwae.shape == (6,) and (iwae >= elbo).all()
    elbo1, iwae1 = model.log_likelihood(x, k=1, generator=gen(1))
    torch.testing.assert_close(elbo1, iwae1)  # with one sample the importance-weighted bound is the ELBO
    assert (iwae <= 0).all() if likelihood == "bernoulli" else torch.isfinite(iwae).all()


def test_the_elbo_of_one_sample_matches_its_terms():
    torch.manual_seed(0)
    model = create_model("vae", **SMALL).eval()
    x = (torch.rand(3, 1, 28, 28, generator=gen(2)) > 0.5).float()
    log_px, kl = model(x, gen(3))
    assert log_px.shape == kl.shape == (3,) and (kl >= 0).all() and (log_px <= 0).all()
    elbo, _ = model.log_likelihood(x, k=4000, generator=gen(4))
    assert (log_px - kl).mean().item() == pytest.approx(elbo.mean().item(), rel=0.05)  # one draw vs their mean


def test_samples_are_decoder_means_and_follow_the_temperature():
    torch.manual_seed(0)
    model = create_model("vae", **SMALL).eval()
    for p in model.decoder.parameters():
        p.data.normal_(0, 0.5)
    a = model.sample(32, generator=gen(0))
    assert a.shape == (32, 1, 28, 28) and 0 <= a.min() and a.max() <= 1
    flat = model.sample(4, generator=gen(0), temperature=0.0)
    assert torch.equal(flat, flat[:1].expand_as(flat))


def test_the_kl_weight_warms_up_and_beta_is_checked(tiny_mnist):
    cfg = TrainConfig(objective="vae", objective_args={"beta": 4.0, "kl_warmup": 10}, model="vae", model_args=SMALL,
                      data="mnist", data_root=str(tiny_mnist), batch_size=8)
    model = create_model("vae", **SMALL)
    objective = get_objective("vae")(cfg, model, lambda m: m)
    x = torch.rand(8, 1, 28, 28, generator=gen(0))
    first = objective.step([x], gen(1))
    assert first["loss"] == pytest.approx(first["neg_elbo"] - first["kl"], rel=1e-4)  # weight 0: no KL in the loss
    with pytest.raises(PixelsmithError, match="beta=0.0 must be > 0"):
        get_objective("vae").parse_args({"beta": 0})
    with pytest.raises(PixelsmithError, match="trains VAEs"):
        get_objective("vae")(cfg, create_model("dcgan", width=8), lambda m: m)
