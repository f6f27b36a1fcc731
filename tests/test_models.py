"""Every registered model is tested by being registered (timm style): build, shapes, gradients, save/load."""

import json

from pathlib import Path

import pytest
import torch

from pixelsmith import PixelsmithError
from pixelsmith.hub import from_pretrained, list_bundled, save_pretrained
from pixelsmith.registry import create_model, list_models

SMALL = {"dcgan": {"width": 8, "latent_dim": 16}, "resunet": {"widths": [8, 16, 32], "blocks": 1}}
# Each registered model with its small arguments, plus the variants of the restorer the bundled models use.
VARIANTS = [(name, SMALL[name]) for name in list_models()] + [
    ("resunet", dict(SMALL["resunet"], channels=3, cond_channels=3)),  # colour noise-map denoiser
    ("resunet", dict(SMALL["resunet"], channels=3, cond_channels=1, gated=True, inpaint=True)),  # inpainter
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in args.items() if k not in ('widths', 'blocks'))}"
       for name, args in VARIANTS]


def perturb(model):
    """Non-zero weights everywhere (zero-initialised layers included), so a wrong load or a dead path shows."""
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    return model


def run(model, name):
    g = torch.Generator().manual_seed(0)
    if name == "dcgan":
        return model.generate(torch.randn(3, model.latent_dim, generator=g))
    x = torch.rand(2, model.channels, 37, 45, generator=g)
    if not model.cond_channels:
        return model(x)
    cond = torch.rand(2, model.cond_channels, 37, 45, generator=g)
    return model(x, (cond > 0.6).float() if model.inpaint else cond)


@pytest.mark.parametrize("name,args", VARIANTS, ids=IDS)
def test_forward_shape_and_gradients(name, args):
    model = perturb(create_model(name, **args))
    out = run(model, name)
    assert out.shape == ((3, 1, 28, 28) if name == "dcgan" else (2, args.get("channels", 1), 37, 45))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    loss = out.square().mean()
    if name == "dcgan":
        loss = loss + model.discriminate(out).square().mean()
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)


@pytest.mark.parametrize("name,args", VARIANTS, ids=IDS)
def test_save_and_load_rebuild_the_same_model(tmp_path, name, args):
    model = perturb(create_model(name, **args)).eval()
    save_pretrained(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = from_pretrained(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config["args"] == model.config["args"]
    with torch.no_grad():
        assert torch.equal(run(model, name), run(loaded, name))


def test_bad_arguments_and_unknown_model():
    with pytest.raises(PixelsmithError, match="unknown model 'nope'"):
        create_model("nope")
    with pytest.raises(PixelsmithError, match="bad arguments for model 'dcgan'.*accepted"):
        create_model("dcgan", depth=3)


def test_broken_model_folders(tmp_path):
    with pytest.raises(PixelsmithError, match="no model at"):
        from_pretrained(tmp_path / "missing")
    save_pretrained(create_model("dcgan", **SMALL["dcgan"]), tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(PixelsmithError, match="not a valid safetensors"):
        from_pretrained(tmp_path / "m")
    save_pretrained(create_model("dcgan", **SMALL["dcgan"]), tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["args"]["width"] = 16
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(PixelsmithError, match="do not match"):
        from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(PixelsmithError, match="missing"):
        from_pretrained(tmp_path / "m")


def test_bundled_models_load_and_are_small():
    names = list_bundled()
    assert {"dcgan-mnist", "resunet-denoise-gray", "resunet-denoise-color", "resunet-jpeg-gray",
            "resunet-inpaint"} <= set(names)
    for name in names:
        model = from_pretrained(name)
        assert not model.training
        folder = __import__("pixelsmith.hub", fromlist=["resolve"]).resolve(name)
        assert (folder / "model.safetensors").stat().st_size < 20e6


def test_float16_weights_load_as_float32_and_stay_close(tmp_path):
    model = perturb(create_model("resunet", **SMALL["resunet"])).eval()
    save_pretrained(model, tmp_path / "half", dtype=torch.float16)
    save_pretrained(model, tmp_path / "full")
    half, full = ((tmp_path / n / "model.safetensors").stat().st_size for n in ("half", "full"))
    assert half < 0.6 * full
    loaded = from_pretrained(tmp_path / "half")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    with torch.no_grad():
        a, b = run(model, "resunet"), run(loaded, "resunet")
    assert not torch.equal(a, b) and (a - b).abs().max() < 1e-2 * a.abs().max()


def test_conditioned_model_needs_its_map():
    model = create_model("resunet", **SMALL["resunet"], cond_channels=2)
    with pytest.raises(PixelsmithError, match="2-channel conditioning map"):
        model(torch.rand(1, 1, 32, 32))
    with pytest.raises(PixelsmithError, match="2-channel conditioning map"):
        model(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))
    with pytest.raises(PixelsmithError, match="one conditioning channel"):
        create_model("resunet", **SMALL["resunet"], cond_channels=2, inpaint=True)


def test_inpainting_model_keeps_known_pixels_and_ignores_the_holes():
    model = perturb(create_model("resunet", **SMALL["resunet"], channels=3, cond_channels=1, gated=True,
                                 inpaint=True)).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 40, 52, generator=g)
    mask = torch.zeros(1, 1, 40, 52)
    mask[..., 10:25, 5:30] = 1
    other = torch.where(mask > 0, torch.rand(x.shape, generator=g), x)  # different content under the hole
    with torch.no_grad():
        a, b = model(x, mask), model(other, mask)
    known = (mask == 0).expand_as(x)
    assert torch.equal(a[known], x[known])  # exactly, not approximately
    assert (a - b).abs().max() < 1e-4  # what lies under the hole does not leak into the result
    assert (a[~known] - x[~known]).abs().mean() > 0.01  # the hole is filled with something new
    # ... except where the input has no known pixel at all: then the input's own values are the starting fill
    everywhere = torch.ones(1, 1, 40, 52)
    with torch.no_grad():
        grey, white = model(torch.full_like(x, 0.5), everywhere), model(torch.ones_like(x), everywhere)
    assert (white - grey).mean() > 0.3


def test_bundled_restorers_match_their_tasks():
    from pixelsmith.hub import read_config
    from pixelsmith.pipelines.tasks import DEFAULT_MODELS, model_task

    expected = {"resunet-denoise-gray": ("denoise", 1, 1), "resunet-denoise-color": ("denoise", 3, 3),
                "resunet-jpeg-gray": ("jpeg", 1, 1), "resunet-inpaint": ("inpaint", 3, 1)}
    for name, (task, channels, cond) in expected.items():
        config = read_config(name)
        assert config["task"] == "restore" and model_task(config) == task
        assert config["args"]["channels"] == channels and config["args"]["cond_channels"] == cond
    for task, defaults in DEFAULT_MODELS.items():
        for name in defaults.values():
            assert name in expected and (expected[name][0] == task or task in ("sr", "deblur"))


def _save_small(tmp_path, **args):
    model = perturb(create_model("resunet", **SMALL["resunet"], **args)).eval()
    save_pretrained(model, tmp_path / "source")
    return from_pretrained(tmp_path / "source")


def test_transplant_gray_into_conditioned_and_colour_models(tmp_path):
    """New conditioning inputs start at zero and gray weights are shared by the colours, so the new model
    starts out computing exactly what the old one did."""
    from pixelsmith.hub import transplant

    gray = _save_small(tmp_path)
    x = torch.rand(2, 1, 48, 64, generator=torch.Generator().manual_seed(2))
    cond = torch.rand(2, 1, 48, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        reference = gray(x)
        conditioned = transplant(gray, create_model("resunet", **SMALL["resunet"], cond_channels=1)).eval()
        assert torch.equal(conditioned(x, cond), reference)
        colour = transplant(gray, create_model("resunet", **SMALL["resunet"], channels=3, cond_channels=3)).eval()
        out = colour(x.expand(-1, 3, -1, -1), cond.expand(-1, 3, -1, -1))
    assert out.shape == (2, 3, 48, 64)
    assert all((out[:, c:c + 1] - reference).abs().max() < 1e-5 for c in range(3))  # gray in, same gray out


def test_transplant_keeps_an_existing_condition(tmp_path):
    from pixelsmith.hub import transplant

    source = _save_small(tmp_path, cond_channels=1)
    x = torch.rand(1, 1, 32, 48, generator=torch.Generator().manual_seed(4))
    cond = torch.rand(1, 1, 32, 48, generator=torch.Generator().manual_seed(5))
    colour = transplant(source, create_model("resunet", **SMALL["resunet"], channels=3, cond_channels=1)).eval()
    with torch.no_grad():
        assert (colour(x.expand(-1, 3, -1, -1), cond) - source(x, cond)).abs().max() < 1e-5
        # the map still matters: the source's conditioning weights were carried over, not zeroed
        assert (colour(x.expand(-1, 3, -1, -1), cond) - colour(x.expand(-1, 3, -1, -1), 1 - cond)).abs().max() > 1e-3


def test_transplant_plain_into_gated_computes_the_same_function(tmp_path):
    """A plain convolution W becomes a gated one with features 2W and a zero gate: the same output."""
    from pixelsmith.hub import transplant

    source = _save_small(tmp_path, cond_channels=1)
    x = torch.rand(1, 1, 32, 48, generator=torch.Generator().manual_seed(6))
    cond = torch.rand(1, 1, 32, 48, generator=torch.Generator().manual_seed(7))
    gated = transplant(source, create_model("resunet", **SMALL["resunet"], cond_channels=1, gated=True)).eval()
    assert any(name.endswith(".conv.weight") for name in gated.state_dict())
    with torch.no_grad():
        assert (gated(x, cond) - source(x, cond)).abs().max() < 1e-5


def test_inpainting_model_started_from_a_denoiser_returns_the_smooth_fill(tmp_path):
    """The denoiser's noise-map input does not carry over to the hole mask (another meaning), and on a smooth
    fill of its own holes the network starts close to that fill."""
    from pixelsmith.hub import transplant
    from pixelsmith.nn import pull_push_fill

    source = _save_small(tmp_path, cond_channels=1)
    model = transplant(source, create_model("resunet", **SMALL["resunet"], channels=3, cond_channels=1,
                                            gated=True, inpaint=True)).eval()
    assert model.state_dict()["head.conv.weight"][:, 12:].abs().max() == 0  # mask channel starts at zero
    x = torch.rand(1, 1, 40, 56, generator=torch.Generator().manual_seed(8)).expand(-1, 3, -1, -1)
    mask = torch.zeros(1, 1, 40, 56)
    mask[..., 8:30, 10:40] = 1
    with torch.no_grad():
        out = model(x, mask)
        fill = pull_push_fill(x * (1 - mask), mask)
        expected = source(fill[:, :1], torch.zeros_like(mask))  # the source denoiser applied to the fill
    assert (out[:, :1] - torch.where(mask > 0, expected, x[:, :1])).abs().max() < 1e-5


def test_transplant_into_more_blocks_computes_the_same_function(tmp_path):
    """A model grown to more residual blocks per level starts with the source's weights and identity blocks:
    the same output; then the new blocks are real parameters that change it. A model with fewer is refused."""
    from pixelsmith.hub import transplant

    source = _save_small(tmp_path, cond_channels=1)
    grown = transplant(source, create_model("resunet", widths=[8, 16, 32], blocks=[2, 3, 1], cond_channels=1)).eval()
    new = set(grown.state_dict()) - set(source.state_dict())
    assert len(new) == 6 * 2  # level 0: one new block down and one up; level 1: two and two; two convs each
    x = torch.rand(1, 1, 32, 48, generator=torch.Generator().manual_seed(6))
    cond = torch.rand(1, 1, 32, 48, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert (grown(x, cond) - source(x, cond)).abs().max() < 1e-5
        grown.down_blocks[1][2].conv2.weight.normal_(0, 0.1)
        assert (grown(x, cond) - source(x, cond)).abs().max() > 1e-4
    with pytest.raises(PixelsmithError, match="'down_blocks.0.1.conv1.weight' has no place"):
        transplant(grown, create_model("resunet", widths=[8, 16, 32], blocks=1, cond_channels=1))
    with pytest.raises(PixelsmithError, match="blocks=\\[2, 1\\]: give one count"):
        create_model("resunet", widths=[8, 16, 32], blocks=[2, 1])


def test_transplant_refuses_other_architectures(tmp_path):
    from pixelsmith.hub import transplant

    source = _save_small(tmp_path)
    with pytest.raises(PixelsmithError, match="cannot start from this model"):
        transplant(create_model("dcgan", **SMALL["dcgan"]), create_model("resunet", **SMALL["resunet"]))
    with pytest.raises(PixelsmithError, match="cannot"):
        transplant(source, create_model("resunet", widths=[8, 16, 64], blocks=1))


def test_bundled_recipes_can_be_retrained():
    """`pixelsmith train NAME` starts from the recipe stored in the model: the model it starts from
    (init_from) must ship too, or be the run of a recipe in configs/, and the recipe must pass the trainer's checks."""
    from pixelsmith.config import TrainConfig
    from pixelsmith.hub import read_config, resolve
    from pixelsmith.training.trainer import check_compatible

    for name in list_bundled():
        recipe = read_config(name).get("metadata", {}).get("recipe")
        if recipe is None:
            continue
        cfg = TrainConfig.from_dict(recipe)
        check_compatible(cfg)
        if cfg.init_from.startswith("runs/"):  # a run the README trains first, from its recipe in configs/
            assert (Path(__file__).resolve().parents[1] / "configs" / f"{Path(cfg.init_from).name}.json").is_file()
        elif cfg.init_from:
            resolve(cfg.init_from)  # raises "no model at ..." when it is not bundled
