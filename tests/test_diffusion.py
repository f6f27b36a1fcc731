"""The diffusion family (pixelsmith.models.diffusion): the U-Net's shapes and gradients, its sampling contract
(seeded, in [0, 1], progress and cancel, classes and classifier-free guidance), RePaint inpainting and the
diffusion objective's training targets."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import gen, run_main
from PIL import Image

from pixelsmith import Cancelled, UsageError
from pixelsmith.hub import save_pretrained
from pixelsmith.models.generative import check_sample_options, draw_labels
from pixelsmith.registry import create_model
from pixelsmith.repaint import jump_schedule, repaint
from pixelsmith.schedulers import NoiseSchedule

SMALL = {"width": 8, "mults": [1, 2], "attention_below": 14, "dropout": 0.0}


def small(**kw):
    """A small diffusion model with random (not zero-initialised) output layers, so its output depends on all
    inputs."""
    model = create_model("ddpm", **{**SMALL, **kw}).eval()
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.1)
    return model


@pytest.mark.parametrize("size,mults", [(28, [1, 2, 2]), (32, [1, 2, 2, 2]), (64, [1, 1, 2, 2])])
@pytest.mark.parametrize("channels", [1, 3])
def test_unet_shapes_and_gradients(size, mults, channels):
    model = small(size=size, mults=mults, channels=channels, num_classes=4, attention_below=size // 4)
    x = torch.randn(3, channels, size, size, generator=gen(0))
    out = model(x, torch.tensor([0, 500, 999]), torch.tensor([0, 3, 4]))  # label 4 is the null class
    assert out.shape == x.shape
    out.square().mean().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead, dead


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 5e-2)])
def test_group_norm_on_nhwc_input_matches_torchs(dtype, tol):
    """The NHWC path (per-channel sums, one multiply-add) gives nn.GroupNorm's result, with the per-sample scale
    and shift folded in, and keeps the input's layout and dtype."""
    from pixelsmith.models.diffusion import GroupNorm
    from pixelsmith.nn.blocks import channels_last

    norm = GroupNorm(4, 16)
    norm.weight.data.normal_(1, 0.3, generator=gen(1))
    norm.bias.data.normal_(0, 0.3, generator=gen(2))
    x = torch.randn(3, 16, 12, 10, generator=gen(3)) * 2 + torch.arange(16.0)[None, :, None, None] / 4
    scale, shift = torch.randn(2, 3, 16, 1, 1, generator=gen(4)).unbind(0)
    expected = nn.GroupNorm.forward(norm, x) * (1 + scale) + shift
    with torch.no_grad():
        nhwc = norm(channels_last(x).to(dtype), scale, shift)
        plain = norm(x, scale, shift)
    assert nhwc.dtype == dtype and nhwc.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(nhwc.float(), expected, atol=tol, rtol=tol)
    torch.testing.assert_close(plain, expected, atol=1e-6, rtol=0)


def test_sampling_in_nhwc_matches_nchw(monkeypatch):
    """Sampling runs the U-Net on NHWC activations; in float32 it gives the NCHW result."""
    import pixelsmith.models.diffusion as diffusion

    model = small(num_classes=3)
    monkeypatch.setattr(diffusion, "autocast", lambda *a, **k: torch.autocast("cpu", enabled=False))
    nhwc = model.sample(4, generator=gen(0), steps=4, label=1, guidance=1.0)
    monkeypatch.setattr(diffusion, "channels_last", lambda x: x.contiguous())
    nchw = model.sample(4, generator=gen(0), steps=4, label=1, guidance=1.0)
    torch.testing.assert_close(nhwc, nchw, atol=1e-4, rtol=0)


def test_bad_architectures_are_refused():
    with pytest.raises(Exception, match=r"size=28 cannot be halved 3 times \(mults=\[1, 2, 2, 2\]\)"):
        create_model("ddpm", size=28, mults=[1, 2, 2, 2])
    with pytest.raises(Exception, match="prediction='x0' is not known; accepted: eps, v"):
        create_model("ddpm", prediction="x0")


def test_timesteps_and_labels_change_the_output():
    model = small(num_classes=3)
    x = torch.randn(2, 1, 28, 28, generator=gen(1))
    t = torch.tensor([10, 10])
    base = model(x, t, torch.tensor([0, 0]))
    assert not torch.allclose(base, model(x, torch.tensor([900, 900]), torch.tensor([0, 0])))
    assert not torch.allclose(base, model(x, t, torch.tensor([1, 1])))
    torch.testing.assert_close(model(x, t, None), model(x, t, torch.tensor([3, 3])))  # no label = the null class


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpm"])
def test_sample_is_seeded_in_range_and_reports_each_step(sampler):
    model = small()
    events = []
    a = model.sample(4, generator=gen(2), sampler=sampler, steps=5, progress=events.append)
    b = model.sample(4, generator=gen(2), sampler=sampler, steps=5)
    assert a.shape == (4, 1, 28, 28) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert [(e.stage, e.done, e.total) for e in events] == [("steps", k, 5) for k in range(1, 6)]
    assert not torch.equal(a, model.sample(4, generator=gen(3), sampler=sampler, steps=5))


def test_sampling_stops_when_the_callback_cancels():
    model = small()
    seen = []

    def stop(event):
        seen.append(event.done)
        if event.done == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        model.sample(2, generator=gen(0), steps=10, progress=stop)
    assert seen == [1, 2]


def test_guidance_combines_conditional_and_unconditional_outputs():
    model = small(num_classes=3)
    x = torch.randn(2, 1, 28, 28, generator=gen(4))
    labels = torch.tensor([1, 2])
    t = torch.tensor([300, 300])
    cond, uncond = model(x, t, labels), model(x, t, None)
    with torch.no_grad():
        guided = model.denoiser(labels, 2.0)(x, 300)
        plain = model.denoiser(labels, 0.0)(x, 300)
    tol = dict(atol=0.05, rtol=0.05)  # bf16 autocast where the processor has it
    torch.testing.assert_close(guided, cond + 2.0 * (cond - uncond), **tol)
    torch.testing.assert_close(plain, cond, **tol)


def test_default_guidance_applies_only_when_a_class_is_asked_for(monkeypatch):
    model = small(num_classes=3, guidance=2.5)
    used = []
    real = model.denoiser
    monkeypatch.setattr(model, "denoiser", lambda labels, w: used.append(w) or real(labels, w))
    model.sample(2, generator=gen(0), steps=2, label=1)
    model.sample(2, generator=gen(0), steps=2)
    model.sample(2, generator=gen(0), steps=2, guidance=0.5)
    assert used == [2.5, 0.0, 0.5]


def test_random_classes_are_drawn_equally_often():
    counts = torch.bincount(torch.cat([draw_labels(256, -1, 10, gen(k)) for k in range(40)]), minlength=10)
    assert counts.max() - counts.min() <= 40  # 10,240 draws: about 1,024 each, not a multinomial's +-60
    assert (draw_labels(7, 4, 10, gen(0)) == 4).all()
    first, again = draw_labels(30, -1, 10, gen(1)), draw_labels(30, -1, 10, gen(1))
    assert torch.equal(first, again) and torch.bincount(first).tolist() == [3] * 10


def test_sample_options_are_declared_and_checked():
    conditional, plain = small(num_classes=3), small()
    assert set(conditional.sample_options) == {"sampler", "steps", "eta", "label", "guidance"}
    assert set(plain.sample_options) == {"sampler", "steps", "eta"}
    assert check_sample_options(conditional, {"steps": "7", "guidance": "1.5"}) == {"steps": 7, "guidance": 1.5}
    with pytest.raises(UsageError, match="steps=0 is out of range"):
        check_sample_options(plain, {"steps": 0})
    with pytest.raises(UsageError, match="takes no sampling option 'label'"):
        check_sample_options(plain, {"label": 1})
    with pytest.raises(UsageError, match="sampler=euler is not known; accepted: ddpm, ddim, dpm"):
        plain.sample(1, sampler="euler")
    with pytest.raises(UsageError, match="label=3 is out of range; this model draws classes 0 to 2"):
        conditional.sample(1, label=3)


def test_v_target_recovers_the_clean_image():
    schedule = NoiseSchedule("cosine", 1000)
    x0 = torch.rand(4, 1, 8, 8, generator=gen(5)) * 2 - 1
    noise = torch.randn(x0.shape, generator=gen(6))
    t = torch.tensor([0, 250, 600, 999])
    xt = schedule.add_noise(x0, noise, t)
    v = schedule.target(x0, noise, t, "v")
    a = schedule.alphas_cumprod[t].float()[:, None, None, None]
    torch.testing.assert_close(a.sqrt() * xt - (1 - a).sqrt() * v, x0, atol=1e-5, rtol=0)
    assert torch.equal(schedule.target(x0, noise, t, "eps"), noise)


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_min_snr_weights_cap_the_clean_image_loss(prediction):
    """With snr_gamma, each timestep's weighted loss on the network's output is min(SNR, gamma) times the squared
    error of the clean image it implies (Hang et al. 2023), whatever the model predicts; without it, weights are 1."""
    from pixelsmith.config import TrainConfig
    from pixelsmith.training.diffusion import DiffusionObjective

    model = small(prediction=prediction)
    cfg = TrainConfig.from_dict(dict(objective="diffusion", objective_args={"snr_gamma": 5.0}, model="ddpm",
                                     model_args=SMALL | {"prediction": prediction}, data="mnist"))
    objective = DiffusionObjective(cfg, model, lambda m: m)
    t = torch.tensor([0, 100, 400, 700, 999])
    x0 = torch.rand(5, 1, 8, 8, generator=gen(1)) * 2 - 1
    noise = torch.randn(x0.shape, generator=gen(2))
    xt = model.schedule.add_noise(x0, noise, t)
    target = model.schedule.target(x0, noise, t, prediction)
    output = target + 0.1 * torch.randn(x0.shape, generator=gen(3))
    a = model.schedule.alphas_cumprod[t].float()[:, None, None, None]
    snr = (a / (1 - a)).flatten()
    implied = (a.sqrt() * xt - (1 - a).sqrt() * output if prediction == "v"
               else (xt - (1 - a).sqrt() * output) / a.sqrt())
    weighted = (output - target).pow(2).mean(dim=(1, 2, 3)) * objective.weights(t)
    expected = snr.clamp(max=5.0) * (implied - x0).pow(2).mean(dim=(1, 2, 3))
    torch.testing.assert_close(weighted, expected, rtol=1e-3, atol=1e-6)
    plain = DiffusionObjective(TrainConfig.from_dict(dict(objective="diffusion", model="ddpm", data="mnist")),
                               model, lambda m: m)
    assert torch.equal(plain.weights(t), torch.ones(5))


def test_jump_schedule_moves_one_level_at_a_time():
    order = jump_schedule(20, 5, 3)
    assert order[0] == 19 and order[-1] == -1
    assert all(abs(b - a) == 1 for a, b in zip(order, order[1:]))
    assert len(order) - 1 == 20 + 3 * 2 * 2 * 5  # 20 steps down, and (resample - 1) jumps up and down at 0, 5, 10
    assert jump_schedule(10, 10, 1) == list(range(9, -2, -1))  # no resampling: plain reverse diffusion


def test_repaint_keeps_known_pixels_and_fills_the_holes():
    model = small()
    images = torch.rand(2, 1, 28, 28, generator=gen(7))
    masks = torch.zeros(2, 1, 28, 28)
    masks[:, :, 8:20, 8:20] = 1
    out = repaint(model, images, masks, steps=6, jump=2, resample=2)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert torch.equal(out[masks == 0], images[masks == 0])
    assert not torch.allclose(out[masks == 1], images[masks == 1])
    torch.testing.assert_close(out, repaint(model, images, masks, steps=6, jump=2, resample=2))  # seeded


def test_repaint_refuses_images_of_another_size_or_channels():
    model = small()
    with pytest.raises(UsageError, match="the image is 32x32 with 1 channel.*fills 28x28 images with 1 channel"):
        repaint(model, torch.rand(1, 1, 32, 32), torch.ones(1, 1, 32, 32))
    with pytest.raises(UsageError, match="the image is 28x28 with 3 channel"):
        repaint(model, torch.rand(1, 3, 28, 28), torch.ones(1, 1, 28, 28))


@pytest.fixture
def ddpm_folder(tmp_path):
    """A small class-conditional diffusion model saved as a model folder."""
    return save_pretrained(small(num_classes=3), tmp_path / "ddpm")


@pytest.mark.cli
def test_generate_command_samples_a_class_with_a_chosen_sampler(capsys, tmp_path, ddpm_folder):
    out = tmp_path / "out"
    code, stdout, err = run_main(capsys, "generate", "--model", ddpm_folder, "-n", 3, "-o", out, "--sampler", "ddim",
                                 "--steps", 4, "--class", 2, "--guidance", 1.5, "--grid", tmp_path / "grid.png")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    code, _, err = run_main(capsys, "generate", "--model", ddpm_folder, "-n", 1, "-o", tmp_path / "x", "--sampler",
                            "heun")
    assert code == 2 and "sampler=heun is not known; accepted: ddpm, ddim, dpm" in err


@pytest.mark.cli
def test_restore_inpaints_with_the_diffusion_model(capsys, tmp_path, ddpm_folder):
    digit = (np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)
    mask = np.zeros((28, 28), np.uint8)
    mask[10:18, 10:18] = 255
    Image.fromarray(digit).save(tmp_path / "digit.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, _, err = run_main(capsys, "restore", tmp_path / "digit.png", "-o", tmp_path / "filled.png", "--task",
                            "inpaint", "--mask", tmp_path / "mask.png", "--method", "diffusion", "--model",
                            ddpm_folder, "--iterations", 4)
    assert code == 0, err
    filled = np.asarray(Image.open(tmp_path / "filled.png"))
    assert filled.shape == (28, 28)
    assert np.array_equal(filled[mask == 0], digit[mask == 0])
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "big.png")
    Image.fromarray(np.pad(np.full((40, 20), 255, np.uint8), ((0, 0), (0, 20)))).save(tmp_path / "bigmask.png")
    code, _, err = run_main(capsys, "restore", tmp_path / "big.png", "-o", tmp_path / "big-out.png", "--task",
                            "inpaint", "--mask", tmp_path / "bigmask.png", "--method", "diffusion", "--model",
                            ddpm_folder)
    assert code != 0 and "the image is 40x40 with 1 channel(s)" in err
    assert not (tmp_path / "big-out.png").exists()
