"""Super-resolution (pipelines.sr): the bundled network and plug-and-play beat bicubic on gray images and on the
luma of colour ones; its tiles agree with the untiled pass; the model and the objective that
trains it; the resamplers; the parameters it refuses."""

import pytest
import torch

from pixelsmith import PixelsmithError, UsageError
from pixelsmith import degradations as D
from pixelsmith.colorspace import rgb_to_ycbcr
from pixelsmith.metrics import psnr
from pixelsmith.pipelines import sr as S
from pixelsmith.pipelines.sr import super_resolve
from pixelsmith.registry import create_model


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_the_network_beats_bicubic_at_every_scale(camera, scale):
    clean = camera[:, 240:384, 240:384]
    small = D.finish(D.bicubic_downscale(clean, scale))
    ours = super_resolve(small, scale)
    assert ours.shape == (1, 144, 144) and ours.dtype == torch.float32 and ours.min() >= 0 and ours.max() <= 1
    bicubic = super_resolve(small, scale, method="bicubic")
    assert psnr(ours, clean, border=scale) > psnr(bicubic, clean, border=scale) + 1


def test_plug_and_play_with_the_denoiser_beats_bicubic(camera):
    clean = camera[:, 64:192, 192:320]
    small = D.finish(D.bicubic_downscale(clean, 2))
    pnp = super_resolve(small, 2, method="pnp", iterations=4)
    bicubic = super_resolve(small, 2, method="bicubic")
    assert pnp.shape == (1, 128, 128) and psnr(pnp, clean, border=2) > psnr(bicubic, clean, border=2) + 1


def test_colour_super_resolution_sharpens_the_luma_and_keeps_the_colours(astronaut):
    small = D.finish(D.bicubic_downscale(astronaut, 2))
    ours = super_resolve(small, 2, ensemble=False)
    bicubic = super_resolve(small, 2, method="bicubic")
    assert ours.shape == (3, 96, 128)
    luma, reference = rgb_to_ycbcr(ours)[:1], rgb_to_ycbcr(astronaut)[:1]
    assert psnr(luma, reference, border=2) > psnr(rgb_to_ycbcr(bicubic)[:1], reference, border=2) + 0.5
    chroma = rgb_to_ycbcr(ours)[1:] - rgb_to_ycbcr(bicubic)[1:]
    assert chroma.abs().max() < 0.05  # chroma is bicubic's (up to clipping back into RGB)
    assert super_resolve(small[:, :20, :30], 3).shape == (3, 60, 90)


def test_the_flip_ensemble_differs_from_one_pass_and_is_no_worse(camera):
    clean = camera[:, 64:256, 192:384]
    small = D.finish(D.bicubic_downscale(clean, 4))
    fast, ensemble = super_resolve(small, 4, ensemble=False), super_resolve(small, 4)
    assert (fast - ensemble).abs().max() > 1e-3
    assert psnr(ensemble, clean, border=4) >= psnr(fast, clean, border=4) - 0.02


def test_tiled_super_resolution_matches_the_untiled_pass(camera, monkeypatch):
    small = camera[:, :200, :232]
    whole = super_resolve(small, 2, ensemble=False, bf16=False)
    monkeypatch.setattr(S, "SR_TILE", 112)
    tiled = super_resolve(small, 2, ensemble=False, bf16=False)
    assert tiled.shape == whole.shape == (1, 400, 464)
    assert (tiled - whole).abs().max() < 1e-5  # the margin covers the whole receptive field


def test_an_untrained_network_is_bicubic_and_refuses_other_scales_and_channels():
    net = create_model("mdsr", width=8, blocks=1, scales=[2, 3])
    x = torch.rand(2, 1, 10, 12)
    expected = torch.nn.functional.interpolate(x, scale_factor=3, mode="bicubic", align_corners=False)
    torch.testing.assert_close(net(x, 3), expected)
    with pytest.raises(PixelsmithError, match="upscales by 2, 3, not by 4"):
        net(x, 4)
    with pytest.raises(PixelsmithError, match="takes 1-channel images, got 3"):
        net(torch.rand(1, 3, 8, 8), 2)


def test_the_objective_learns_to_upscale_and_refuses_a_scale_the_model_lacks(tmp_path, gray_folder):
    from pixelsmith.config import TrainConfig
    from pixelsmith.training import train

    recipe = dict(objective="super_resolve", objective_args={"scales": [2]}, model="mdsr",
                  model_args={"width": 16, "blocks": 2, "scales": [2]}, data="patches", data_root=str(gray_folder),
                  data_args={"degradation": "none", "patch_size": 48, "holdout": 2}, steps=60, batch_size=8,
                  lr=2e-3, ema_decay=0.5, log_every=60, sample_every=60, ckpt_every=1000)
    train(TrainConfig.from_dict(recipe), tmp_path / "run")
    log = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    gain = float(next(line for line in log if ",val_gain_x2," in line).split(",")[-1])
    assert gain > 0.05  # an untrained model is bicubic (gain 0); after 60 steps the held-out patches gain
    bad = dict(recipe, objective_args={"scales": [2, 4]})
    with pytest.raises(PixelsmithError, match=r"scales asks for \[4\] but the model upscales by \[2\]"):
        train(TrainConfig.from_dict(bad), tmp_path / "bad")
    noisy = dict(recipe, data_args={"patch_size": 48, "holdout": 2})
    with pytest.raises(PixelsmithError, match="set data_args.degradation to 'none'"):
        train(TrainConfig.from_dict(noisy), tmp_path / "noisy")


@pytest.mark.parametrize("method", ["bicubic", "lanczos"])
def test_resamplers_keep_a_flat_image_flat(method):
    flat = torch.full((3, 10, 14), 0.25)
    out = super_resolve(flat, 3, method=method)
    assert out.shape == (3, 30, 42) and torch.allclose(out, torch.full_like(out, 0.25), atol=1e-5)


@pytest.mark.parametrize("scale,options,words", [
    (2, {"method": "bm3d"}, "method=bm3d is not known for sr; accepted: model, pnp, bicubic, lanczos"),
    (5, {}, "scale=5 is not supported; accepted: 2, 3, 4"),
    (2, {"iterations": 0}, "iterations=0 must be at least 1"),
    (2, {"iterations": 8}, "iterations applies to method=pnp"),
    (2, {"model": "resunet-inpaint"}, "model=resunet-inpaint is not a model for sr"),
    (2, {"method": "pnp", "model": "mdsr-sr"}, "model=mdsr-sr is not a model for denoise"),
])
def test_bad_arguments_are_usage_errors(camera, scale, options, words):
    with pytest.raises(UsageError, match=words):
        super_resolve(camera[:, :32, :32], scale, **options)
