"""Every registered model is tested by being registered (timm style): build, shapes, gradients, save/load."""

import json

import pytest
import torch

from pixelsmith import PixelsmithError
from pixelsmith.hub import from_pretrained, list_bundled, save_pretrained
from pixelsmith.registry import create_model, list_models

SMALL = {"dcgan": {"width": 8, "latent_dim": 16}, "resunet": {"widths": [8, 16, 32], "blocks": 1}}


def perturb(model):
    """Non-zero weights everywhere (zero-initialised layers included), so a wrong load or a dead path shows."""
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    return model


def run(model, name):
    if name == "dcgan":
        return model.generate(torch.randn(3, model.latent_dim, generator=torch.Generator().manual_seed(0)))
    return model(torch.rand(2, 1, 37, 45, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("name", list_models())
def test_forward_shape_and_gradients(name):
    model = perturb(create_model(name, **SMALL[name]))
    out = run(model, name)
    assert out.shape == ((3, 1, 28, 28) if name == "dcgan" else (2, 1, 37, 45))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    loss = out.square().mean()
    if name == "dcgan":
        loss = loss + model.discriminate(out).square().mean()
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)


@pytest.mark.parametrize("name", list_models())
def test_save_and_load_rebuild_the_same_model(tmp_path, name):
    model = perturb(create_model(name, **SMALL[name])).eval()
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
    assert {"dcgan-mnist", "resunet-train400-gray"} <= set(names)
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
