import math

import pytest
import torch

from pixelsmith.losses import (
    GAN_LOSSES,
    discriminator_loss,
    generator_loss,
    restoration_loss,
)
from pixelsmith.metrics import psnr


def batch_with_errors(*errors: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A clean batch of mid-grey images and a restored one off by a constant error per image."""
    clean = torch.full((len(errors), 1, 8, 8), 0.5)
    return clean + torch.tensor(errors).view(-1, 1, 1, 1), clean


def test_psnr_loss_is_minus_the_mean_psnr():
    restored, clean = batch_with_errors(0.01, 0.1, 0.03)
    expected = -psnr(restored, clean).mean().item()
    assert restoration_loss(restored, clean, "psnr").item() == pytest.approx(expected, abs=1e-4)


def test_psnr_loss_weighs_images_by_their_db_not_their_squared_error():
    """One easy and one hard image against two medium ones: MSE prefers the medium pair (the hard image dominates
    it), the per-image dB average prefers the easy/hard pair (-30 dB against -26 dB)."""
    uneven, medium = batch_with_errors(0.01, 0.1), batch_with_errors(0.05, 0.05)
    assert restoration_loss(*uneven, "mse") > restoration_loss(*medium, "mse")
    assert restoration_loss(*uneven, "psnr") < restoration_loss(*medium, "psnr")
    assert restoration_loss(*uneven, "psnr").item() == pytest.approx(-30.0, abs=1e-3)


def test_l1_and_mse_losses():
    restored, clean = batch_with_errors(0.1, -0.3)
    assert restoration_loss(restored, clean, "l1").item() == pytest.approx(0.2)
    assert restoration_loss(restored, clean, "mse").item() == pytest.approx(0.05)


def test_perfect_restoration_has_a_finite_psnr_loss():
    clean = torch.rand(2, 3, 8, 8)
    loss = restoration_loss(clean.clone().requires_grad_(), clean, "psnr")
    assert loss.item() == pytest.approx(-80.0)
    loss.backward()  # no inf/nan from log(0)


def test_unknown_restoration_loss():
    with pytest.raises(ValueError, match="accepted: l1, mse, psnr"):
        restoration_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), "ssim")


def test_restoration_losses_pass_gradients_to_the_restored_batch():
    restored, clean = batch_with_errors(0.1, -0.2)
    for kind in ("l1", "mse", "psnr"):
        x = restored.clone().requires_grad_()
        restoration_loss(x, clean, kind).backward()
        assert x.grad.shape == x.shape and (x.grad[0] > 0).all() and (x.grad[1] < 0).all()  # towards the clean


# ---- adversarial -----------------------------------------------------------------------------------------
def test_gan_losses_of_a_perfect_and_a_fooled_discriminator():
    """Every loss says the discriminator is doing well when reals score high and fakes low, and the generator
    is doing well in the opposite case."""
    high, low = torch.full((8,), 5.0), torch.full((8,), -5.0)
    for kind in GAN_LOSSES:
        assert discriminator_loss(high, low, kind) < discriminator_loss(low, high, kind), kind
        assert generator_loss(high, kind) < generator_loss(low, kind), kind


def test_gan_loss_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-0.5, 1.0])
    assert discriminator_loss(real, fake, "wasserstein").item() == pytest.approx(0.25 - 1.25)
    assert discriminator_loss(real, fake, "hinge").item() == pytest.approx(0.25 + 1.25)  # relu(1-r) + relu(1+f)
    assert generator_loss(fake, "hinge").item() == pytest.approx(-0.25)
    assert discriminator_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2 * math.log(2))
    assert generator_loss(torch.zeros(3)).item() == pytest.approx(math.log(2))


def test_unknown_gan_loss():
    with pytest.raises(ValueError, match="accepted: nonsaturating, hinge, wasserstein"):
        discriminator_loss(torch.zeros(2), torch.zeros(2), "wgan")
    with pytest.raises(ValueError, match="accepted: nonsaturating, hinge, wasserstein"):
        generator_loss(torch.zeros(2), "wgan")
