"""The ``gan`` training objective (pixelsmith.training.gan): discriminator and generator updates with each
GAN loss, the options it refuses, and a run whose exported model samples through the generation pipeline."""

import csv

import pytest
import torch
from conftest import gan_recipe, restore_recipe

from pixelsmith import PixelsmithError
from pixelsmith.losses import GAN_LOSSES
from pixelsmith.pipelines.generate import generate
from pixelsmith.training import train


@pytest.mark.parametrize("loss", GAN_LOSSES)
def test_every_gan_loss_trains_and_logs_both_networks(tmp_path, tiny_mnist, loss):
    folder = train(gan_recipe(tiny_mnist, steps=3, objective_args={"loss": loss}), tmp_path / "run")
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    for metric in ("d_loss", "g_loss", "lr"):
        values = [float(r["value"]) for r in rows if r["metric"] == metric]
        assert len(values) == 3 and all(torch.isfinite(torch.tensor(values))), metric
    images = generate(str(tmp_path / "run"), 4, seed=0)  # the run folder samples like a bundled model
    assert images.shape == (4, 1, 28, 28) and torch.equal(images, generate(str(folder), 4, seed=0))


def test_training_moves_the_generator(tmp_path, tiny_mnist):
    import copy

    from pixelsmith.hub import from_pretrained
    from pixelsmith.training import Trainer

    trainer = Trainer(gan_recipe(tiny_mnist, steps=4, ema_decay=0.0), tmp_path / "run")
    start = copy.deepcopy(trainer.model).eval()
    trainer.fit()
    trained = from_pretrained(tmp_path / "run")
    assert not torch.equal(generate(start, 4, seed=0), generate(trained, 4, seed=0))
    assert all(torch.equal(a, b) for a, b in zip(trained.discriminator.state_dict().values(),
                                                 trainer.model.discriminator.state_dict().values()))


@pytest.mark.parametrize("args,message", [
    ({"loss": "wgan"}, "objective_args.loss='wgan' is not known; accepted: nonsaturating, hinge, wasserstein"),
    ({"n_critic": 0}, "objective_args.n_critic=0 must be at least 1"),
    ({"lr_d": 0}, "objective_args.lr_d=0.0 must be > 0"),
    ({"betas_g": [0.5, 1.0]}, r"objective_args.betas_g=\[0.5, 1.0\] must be two numbers in \[0, 1\)"),
    ({"gp_weight": -1}, "objective_args.gp_weight=-1.0 must be >= 0"),
])
def test_bad_options_are_refused(tmp_path, tiny_mnist, args, message):
    with pytest.raises(PixelsmithError, match=message):
        train(gan_recipe(tiny_mnist, objective_args=args), tmp_path / "run")


def test_a_restoration_model_cannot_train_as_a_gan(tmp_path, gray_folder):
    with pytest.raises(PixelsmithError, match="objective=gan trains generate models; 'resunet' is a 'restore' model"):
        train(restore_recipe(gray_folder, objective="gan", objective_args={}), tmp_path / "run")
