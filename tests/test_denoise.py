"""Denoising (pipelines.denoise): the learned noise-map denoiser against the classical baselines, how a gray
model denoises colour (the colour strategies), the noise-level map, and the parameters it refuses."""

import pytest
import torch
from conftest import gen

from pixelsmith import UsageError
from pixelsmith import degradations as D
from pixelsmith.metrics import psnr
from pixelsmith.pipelines.denoise import (
    COLOUR_ALONE_SIGMA,
    colour_model_weight,
    denoise,
    denoise_clipped_colour,
    denoise_luminance,
    noise_map,
)
from pixelsmith.pipelines.methods import COLOUR_DENOISER, load_restorer


def test_denoiser_beats_nlm_by_a_decibel(camera):
    clean = camera[:, 100:228, 150:278]
    noisy = D.add_gaussian_noise(clean, 25, gen(0), clip=True, quantize=True)
    ours = denoise(noisy, 25, ensemble=False)
    assert ours.shape == clean.shape and ours.dtype == torch.float32 and ours.min() >= 0 and ours.max() <= 1
    assert psnr(ours, clean) > psnr(denoise(noisy, 25, method="nlm"), clean) + 1


def test_colour_denoiser_beats_nlm_by_a_decibel(astronaut):
    noisy = D.add_gaussian_noise(astronaut, 25, gen(0), clip=True, quantize=True)
    ours = denoise(noisy, 25, ensemble=False)
    assert ours.shape == astronaut.shape
    assert psnr(ours, astronaut) > psnr(denoise(noisy, 25, method="nlm"), astronaut) + 1  # measured +2.8 dB


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_bundled_denoiser_beats_noisy_and_nlm(camera, sigma):
    clean = camera[:, 128:384, 128:384]
    noisy = D.add_gaussian_noise(clean, sigma, gen(sigma), clip=True, quantize=True)
    ours = psnr(denoise(noisy), clean).item()
    assert ours > psnr(noisy, clean).item() + 5
    assert ours > psnr(denoise(noisy, sigma, method="nlm"), clean).item()


def test_colour_model_weight_grows_with_the_noise_level():
    levels = (0, 5, 15, 25, 50, 75)
    weights = torch.stack([colour_model_weight(torch.full((3, 2, 2), float(s))) for s in levels])
    assert weights.shape == (6, 1, 2, 2)
    assert weights[:2].max() == 0 and (weights.diff(dim=0) >= 0).all() and 0 < weights.max() < 1
    mixed = colour_model_weight(torch.stack([torch.full((2, 2), 5.0), torch.full((2, 2), 45.0),
                                             torch.full((2, 2), 25.0)]))
    assert torch.equal(mixed, colour_model_weight(torch.full((3, 2, 2), 25.0)))  # the mean level of the pixel


def test_clipped_colour_noise_mixes_the_gray_views_with_the_colour_model(astronaut):
    """A colour file (values in [0, 1]) mixes two opponent views of the gray model with the colour model by
    the noise level: well above the colour model alone, within 0.1 dB of the three views on this small crop
    (measured: mix 29.04, views 29.10, colour model one pass 28.76). Naming the gray model changes nothing; at a
    level where the weight is 0 the colour model is not run."""
    clipped = D.add_gaussian_noise(astronaut, 30, gen(4), clip=True, quantize=True)
    default = denoise(clipped, 30)
    assert torch.equal(default, denoise(clipped, 30, colour="mix"))
    assert torch.equal(default, denoise(clipped, 30, model="resunet-denoise-gray"))
    views = denoise(clipped, 30, colour="views")
    colour_alone = denoise(clipped, 30, model=COLOUR_DENOISER, ensemble=False)
    ours, views_score = psnr(default, astronaut).item(), psnr(views, astronaut).item()
    assert ours > psnr(colour_alone, astronaut).item() + 0.2 and ours > views_score - 0.1
    assert not torch.equal(default, views)

    class NotRun(torch.nn.Module):
        def forward(self, *args):
            raise AssertionError("the colour model ran at a level where its weight is 0")

    faint = D.add_gaussian_noise(astronaut, 5, gen(4), clip=True, quantize=True)
    gray = load_restorer("denoise")
    assert torch.allclose(denoise(faint, 5), denoise_clipped_colour(gray, NotRun(), faint, 5), atol=1e-6)


def test_unclipped_colour_noise_takes_the_views_and_their_mean_beats_one(astronaut):
    """Values outside [0, 1] (unclipped Gaussian noise) take the three opponent views only. Every view maps
    back to the image's own channel order and orientation, or their mean would swap colours or mirror the
    image, tens of dB off: the mean of the three scores above one view (measured 29.45 against 29.38)."""
    noisy = D.add_gaussian_noise(astronaut, 30, gen(5))
    assert noisy.min() < 0 and noisy.max() > 1
    mean = denoise(noisy, 30)
    assert torch.equal(mean, denoise(noisy, 30, colour="views"))
    one = denoise(noisy, 30, ensemble=False)
    assert psnr(mean, astronaut).item() > psnr(one, astronaut).item() + 0.05
    assert psnr(one, astronaut).item() > psnr(noisy.clamp(0, 1), astronaut).item() + 8


def test_one_pass_on_a_file_takes_the_colour_model_above_a_noise_level(astronaut):
    """With one pass, a colour file takes the colour model alone from a mean level of COLOUR_ALONE_SIGMA (a
    third of the work of one gray view) and one view of the gray model below it; unclipped noise keeps the view.
    Both choices denoise."""
    crop = astronaut[:, :64, :64]
    for level, strategy in ((COLOUR_ALONE_SIGMA - 10, "views"), (COLOUR_ALONE_SIGMA + 10, "colour")):
        noisy = D.add_gaussian_noise(crop, level, gen(7), clip=True, quantize=True)
        one = denoise(noisy, level, ensemble=False)
        assert torch.equal(one, denoise(noisy, level, colour=strategy, ensemble=False)), level
        other = "views" if strategy == "colour" else "colour"
        assert not torch.equal(one, denoise(noisy, level, colour=other, ensemble=False)), level
        assert psnr(one, crop) > psnr(noisy, crop) + 3, level
    estimated = D.add_gaussian_noise(crop, 40, gen(8), clip=True, quantize=True)
    assert torch.equal(denoise(estimated, ensemble=False), denoise(estimated, colour="colour", ensemble=False))
    for ensemble in (False, True):
        assert torch.equal(denoise(estimated, 40, colour="colour", ensemble=ensemble),
                           denoise(estimated, 40, model=COLOUR_DENOISER, ensemble=ensemble))
    unclipped = D.add_gaussian_noise(crop, 40, gen(9))
    assert torch.equal(denoise(unclipped, 40, ensemble=False), denoise(unclipped, 40, colour="views", ensemble=False))


def test_a_colour_model_runs_on_rgb_whatever_the_strategy(astronaut):
    noisy = D.add_gaussian_noise(astronaut[:, :48, :64], 20, gen(6), clip=True, quantize=True)
    mixed = denoise(noisy, 20, model=COLOUR_DENOISER, colour="mix", ensemble=False)
    assert torch.equal(mixed, denoise(noisy, 20, model=COLOUR_DENOISER, colour="views", ensemble=False))
    assert psnr(mixed, astronaut[:, :48, :64]) > psnr(noisy, astronaut[:, :48, :64]) + 5


def test_denoiser_follows_its_noise_map(camera):
    """A noise-map model smooths as much as it is told: the true level is best, too low leaves noise, too
    high smooths detail away (measured 29.5 dB at the true 25, 22.3 at 5, 25.6 at 50)."""
    clean = camera[:, 128:256, 128:256]
    noisy = D.add_gaussian_noise(clean, 25, gen(1))
    scores = {s: psnr(denoise(noisy, s, ensemble=False), clean).item() for s in (5, 25, 50)}
    assert scores[25] > scores[5] + 3 and scores[25] > scores[50] + 1
    varying = torch.cat([torch.full((1, 128, 64), 10.0), torch.full((1, 128, 64), 40.0)], -1)
    noisy = D.add_gaussian_noise(clean, varying, gen(2))
    assert psnr(denoise(noisy, varying, ensemble=False), clean) > psnr(
        denoise(noisy, 25, ensemble=False), clean) + 1  # measured +4.9 dB


def test_noise_map_estimates_each_channel(astronaut):
    levels = torch.tensor([5.0, 15.0, 35.0]).view(3, 1, 1)
    noisy = D.add_gaussian_noise(astronaut, levels, gen(1))
    estimated = noise_map(noisy, None)
    assert estimated.shape == astronaut.shape and estimated.dtype == torch.float32
    assert torch.allclose(estimated[:, 0, 0], levels.flatten(), atol=2.5)
    assert torch.equal(noise_map(noisy, 20), torch.full_like(noisy, 20))
    assert torch.equal(noise_map(noisy, levels), levels.expand_as(noisy))
    estimated[0, 0, 0] = -1  # a map of its own, not a view of the level given
    assert torch.equal(noise_map(noisy, levels), levels.expand_as(noisy))
    assert noise_map(noisy, estimated) is estimated  # a full-size map passed on is not copied again


def test_an_estimated_level_denoises_without_being_told(camera):
    clean = camera[:, 200:296, 200:296]
    noisy = D.add_gaussian_noise(clean, 20, gen(7), clip=True, quantize=True)
    told, guessed = denoise(noisy, 20, ensemble=False), denoise(noisy, ensemble=False)
    assert abs(psnr(told, clean) - psnr(guessed, clean)) < 0.3


def test_a_flat_channel_stays_finite(astronaut):
    image = astronaut.clone()
    image[2] = 0  # every detail zero: level 0, not NaN
    out = denoise(image, ensemble=False)
    assert out.isfinite().all() and out[2].abs().max() < 0.05


def test_bf16_holds_the_accuracy_of_fp32(camera):
    clean = torch.stack([camera[0, :96, :96], camera[0, 96:192, :96], camera[0, :96, 96:192]])
    noisy = D.add_gaussian_noise(clean, 25, gen(1))
    fp32, bf16 = denoise(noisy, bf16=False), denoise(noisy, bf16=True)
    assert fp32.shape == (3, 96, 96)
    assert psnr(fp32, clean) > psnr(noisy, clean) + 4
    assert abs(psnr(fp32, clean) - psnr(bf16, clean)) < 0.2


def test_self_ensemble_is_close_and_not_worse(camera):
    clean = camera[:, 256:352, 256:384]
    noisy = D.add_gaussian_noise(clean, 25, gen(5))
    plain, ens = denoise(noisy, bf16=False, ensemble=False), denoise(noisy, bf16=False)  # default: 4 rotations
    assert not torch.equal(plain, ens) and (plain - ens).abs().mean() < 0.01
    assert psnr(ens, clean) > psnr(plain, clean)


def test_deep_image_prior_through_denoise(camera):
    noisy = D.add_gaussian_noise(camera[:, 200:232, 200:232], 25, gen(), clip=True)
    out = denoise(noisy, 25, method="dip", iterations=20)
    assert out.shape == noisy.shape and torch.isfinite(out).all() and not torch.equal(out, noisy)


def test_bad_arguments_are_usage_errors(camera):
    x = camera[:, :32, :32]
    with pytest.raises(UsageError, match="sigma=300 is out of range"):
        denoise(x, 300, method="bm3d")
    with pytest.raises(UsageError, match="method=magic is not known for denoise; accepted: model, dip, bm3d, nlm, tv, "
                                         "wavelet"):
        denoise(x, method="magic")
    with pytest.raises(UsageError, match="model=dcgan-mnist is not a model for denoise"):
        denoise(x, model="dcgan-mnist")
    with pytest.raises(UsageError, match="colour=rainbow is not known; accepted: auto, mix, views, colour"):
        denoise(x.expand(3, -1, -1), 10, colour="rainbow")


def test_a_model_loaded_for_another_task_is_still_refused(camera):
    """The model store shares loaded models between tasks; the task check is made on every load."""
    from pixelsmith.pipelines.jpeg import remove_jpeg_artifacts

    x = camera[:, :32, :32]
    remove_jpeg_artifacts(x, 30, model="resunet-jpeg-gray")
    with pytest.raises(UsageError, match="model=resunet-jpeg-gray is not a model for denoise"):
        denoise(x, 10, model="resunet-jpeg-gray")


def test_denoise_luminance_keeps_the_chroma_and_denoises_the_luminance(astronaut):
    from pixelsmith.colorspace import rgb_to_opponent

    noisy = D.add_gaussian_noise(astronaut, 15, gen(4))
    out = denoise_luminance(load_restorer("denoise"), noisy, 15.0)
    before, after, clean = rgb_to_opponent(noisy), rgb_to_opponent(out), rgb_to_opponent(astronaut)
    assert (after[1:] - before[1:]).abs().max() < 1e-5
    assert psnr(after[:1], clean[:1]) > psnr(before[:1], clean[:1]) + 3
