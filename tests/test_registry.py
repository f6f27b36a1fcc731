"""The model registry, and every registered model tested by being registered (timm style): each is built from
its entry's ``example_args`` and checked for what its family promises, and for a save/load round trip through
the hub. A new model gets these tests by registering itself; nothing here names a model."""

import pytest
import torch
from conftest import gen

from pixelsmith import PixelsmithError
from pixelsmith.hub import from_pretrained, save_pretrained
from pixelsmith.registry import (
    FAMILIES,
    count_parameters,
    create_model,
    get_entry,
    list_models,
    register_model,
)

MODELS = list_models()


def perturb(model):
    """Non-zero weights everywhere (zero-initialised layers included), so a wrong load or a dead path shows."""
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    return model


def example(name):
    return create_model(name, **get_entry(name).example_args)


def restore_inputs(model, n=2, h=37, w=45):
    """An image batch and, for a conditioned model, its map (a binary hole mask for an inpainter)."""
    args = model.config["args"]
    g = gen(0)
    x = torch.rand(n, args.get("channels", 1), h, w, generator=g)
    k = args.get("cond_channels", 0)
    if not k:
        return (x,)
    cond = torch.rand(n, k, h, w, generator=g)
    return x, (cond > 0.6).float() if args.get("inpaint") else cond


def output(model):
    """What the model's family produces, from fixed inputs: a restored batch or seeded samples."""
    family = model.config["family"]
    if family == "restore" and hasattr(model, "scales"):  # super-resolution: the image and a scale
        return model(restore_inputs(model)[0], model.scales[-1])
    if family == "restore":
        return model(*restore_inputs(model))
    if family == "generate":
        return model.sample(3, generator=gen(0))
    if family == "classify":
        return model(torch.rand(3, model.config["args"].get("channels", 1), 28, 28, generator=gen(0)))
    if family == "predict":
        return model(torch.rand(2, model.frames_in, model.channels, model.size, model.size, generator=gen(0)))
    raise NotImplementedError(f"no contract test for family '{family}' yet")


def test_there_are_models_of_several_families():
    assert {get_entry(n).family for n in MODELS} >= {"restore", "generate"}


@pytest.mark.parametrize("name", MODELS)
def test_entry_and_config_say_what_the_model_is(name):
    entry = get_entry(name)
    assert entry.name == name and entry.family in FAMILIES and entry.description
    model = example(name)
    assert model.config["model"] == name and model.config["family"] == entry.family
    assert entry.example_args.items() <= model.config["args"].items()  # defaults are filled in too
    assert count_parameters(model) < 1_000_000  # example_args build a tiny instance


@pytest.mark.parametrize("name", [n for n in list_models("restore") if n != "mdsr"])  # mdsr upscales: test_sr.py
def test_restorer_keeps_the_image_shape_and_passes_gradients(name):
    model = perturb(example(name))
    inputs = restore_inputs(model)
    inputs[0].requires_grad_(True)
    out = model(*inputs)
    assert out.shape == inputs[0].shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    out.square().mean().backward()
    assert inputs[0].grad is not None and inputs[0].grad.abs().sum() > 0
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    dead = [n for n, p in trainable if p.grad is None or p.grad.abs().sum() == 0]
    assert trainable and not dead, dead
    odd = model(*restore_inputs(model, n=1, h=17, w=30))  # sizes that are no multiple of anything
    assert odd.shape[-2:] == (17, 30)


@pytest.mark.parametrize("name", list_models("generate"))
def test_generator_samples_images_in_range_reproducibly(name):
    model = perturb(example(name)).eval()
    a, b, c = (model.sample(4, generator=gen(s)) for s in (1, 1, 2))
    assert a.ndim == 4 and a.shape[0] == 4 and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 1 and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert model.sample(1, generator=gen(1)).shape == (1, *a.shape[1:])


@pytest.mark.parametrize("name", list_models("predict"))
def test_predictor_gives_the_next_frames_with_gradients(name):
    model = example(name)
    clips = torch.rand(2, model.frames_in, model.channels, model.size, model.size, generator=gen(0),
                       requires_grad=True)
    out = model(clips)
    assert out.shape == (2, model.frames_out, *clips.shape[2:]) and torch.isfinite(out).all()
    assert model(clips, 3).shape[1] == 3  # any number of future frames
    out.square().mean().backward()
    assert clips.grad[:, 0].abs().sum() > 0  # the first frame reaches the prediction through the states
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead, dead


@pytest.mark.parametrize("name", list_models("classify"))
def test_classifier_gives_logits_and_features_with_gradients(name):
    model = example(name).eval()  # its own initialisation: perturb()'s small weights leave every ReLU dead
    x = torch.rand(4, model.config["args"].get("channels", 1), 28, 28, generator=gen(0), requires_grad=True)
    logits, features = model(x), model.features(x)
    assert logits.shape == (4, model.num_classes) and features.ndim == 2 and features.shape[0] == 4
    assert torch.allclose(model.head(features), logits)  # the head reads exactly the features that FID uses
    logits.sum().backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", MODELS)
def test_save_and_load_rebuild_the_same_model(tmp_path, name):
    model = perturb(example(name)).eval()
    save_pretrained(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = from_pretrained(tmp_path / "m")
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.config["args"] == model.config["args"] and loaded.config["family"] == model.config["family"]
    with torch.no_grad():
        assert torch.equal(output(model), output(loaded))


@pytest.mark.parametrize("name", MODELS)
def test_bad_arguments_name_the_model_and_what_it_accepts(name):
    with pytest.raises(PixelsmithError, match=f"bad arguments for model '{name}'.*accepted"):
        create_model(name, no_such_argument=3)


def test_unknown_model_lists_the_registered_ones():
    with pytest.raises(PixelsmithError, match=f"unknown model 'nope'; registered models: {', '.join(MODELS)}"):
        create_model("nope")
    with pytest.raises(PixelsmithError, match="unknown model 'nope'"):
        get_entry("nope")


def test_list_models_by_family():
    by_family = {f: list_models(f) for f in FAMILIES}
    assert sorted(n for names in by_family.values() for n in names) == MODELS
    for family, names in by_family.items():
        assert all(get_entry(n).family == family for n in names)
    assert list_models("no-such-family") == []


def test_registering_a_bad_family_or_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="family='paint' is not known; accepted: restore, generate"):
        register_model("some-new-model", family="paint")
    with pytest.raises(ValueError, match=f"model '{MODELS[0]}' is registered twice"):
        register_model(MODELS[0], family="restore")(lambda: torch.nn.Identity())
    assert list_models() == MODELS  # neither attempt left an entry behind
