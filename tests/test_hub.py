"""Model folders (pixelsmith.hub): config.json + model.safetensors written atomically and read back, older
configs upgraded on read, clear errors for broken folders, and every bundled model doing what its family and
its config say."""

import json
from pathlib import Path

import pytest
import torch
from conftest import gen

from pixelsmith import PixelsmithError
from pixelsmith.catalog import list_bundled, read_config, resolve, upgrade_config
from pixelsmith.hub import from_pretrained, save_pretrained, transplant
from pixelsmith.registry import FAMILIES, create_model, get_entry

ROOT = Path(__file__).resolve().parents[1]
SMALL_GAN = {"width": 8, "latent_dim": 16}
SMALL_UNET = {"widths": [8, 16, 32], "blocks": 1}


def perturb(model):
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    return model.eval()


def test_saving_again_replaces_the_folder_whole(tmp_path):
    first, second = perturb(create_model("resunet", **SMALL_UNET)), create_model("resunet", **SMALL_UNET)
    save_pretrained(first, tmp_path / "m", metadata={"note": "first"})
    save_pretrained(second, tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temp or old folder left beside it
    loaded = from_pretrained(tmp_path / "m")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), second.state_dict().values()))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"] == "resunet" and config["family"] == "restore" and "pixelsmith_version" in config


def test_a_model_not_built_by_the_registry_is_refused(tmp_path):
    with pytest.raises(PixelsmithError, match="model has no .config"):
        save_pretrained(torch.nn.Conv2d(1, 1, 3), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_broken_model_folders(tmp_path):
    with pytest.raises(PixelsmithError, match="no model at"):
        from_pretrained(tmp_path / "missing")
    save_pretrained(create_model("dcgan", **SMALL_GAN), tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(PixelsmithError, match="not a valid safetensors"):
        from_pretrained(tmp_path / "m")
    save_pretrained(create_model("dcgan", **SMALL_GAN), tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["args"]["width"] = 16
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(PixelsmithError, match="do not match"):
        from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(PixelsmithError, match="missing"):
        from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(PixelsmithError, match="not a readable JSON model config"):
        read_config(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("[1, 2]")
    with pytest.raises(PixelsmithError, match="must be a JSON object"):
        read_config(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text('{"family": "restore"}')
    with pytest.raises(PixelsmithError, match="missing 'model' or 'args'"):
        from_pretrained(tmp_path / "m")


def test_float16_weights_load_as_float32_and_stay_close(tmp_path):
    model = perturb(create_model("resunet", **SMALL_UNET))
    save_pretrained(model, tmp_path / "half", dtype=torch.float16)
    save_pretrained(model, tmp_path / "full")
    half, full = ((tmp_path / n / "model.safetensors").stat().st_size for n in ("half", "full"))
    assert half < 0.6 * full
    loaded = from_pretrained(tmp_path / "half")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.rand(2, 1, 37, 45, generator=gen(0))
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert not torch.equal(a, b) and (a - b).abs().max() < 1e-2 * a.abs().max()


def test_a_run_folder_and_a_bundled_name_resolve(tmp_path):
    save_pretrained(create_model("dcgan", **SMALL_GAN), tmp_path / "run" / "model")
    assert resolve(tmp_path / "run") == tmp_path / "run" / "model"  # a training run: its model/ folder
    assert resolve(tmp_path / "run" / "model") == tmp_path / "run" / "model"
    name = list_bundled()[0]
    assert (resolve(name) / "config.json").is_file()
    with pytest.raises(PixelsmithError, match=f"no model at 'sub/{name}'"):
        resolve(f"sub/{name}")  # a name is a bundled model only without a folder part


@pytest.mark.parametrize("degradation,restores", [(None, "denoise"), ("noise", "denoise"), ("jpeg", "jpeg"),
                                                  ("inpaint", "inpaint")])
def test_older_restorer_configs_are_upgraded_on_read(tmp_path, degradation, restores):
    """Configs written before models said what they do had task=restore and their task in the recipe: read,
    they say family=restore and what they restore, so the pipelines accept them for that task."""
    from pixelsmith.pipelines.methods import load_restorer

    save_pretrained(create_model("resunet", **SMALL_UNET, cond_channels=1), tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    recipe = {"task": "restore", "data_args": {"degradation": degradation} if degradation else {}}
    config = {k: v for k, v in config.items() if k not in ("family", "restores")}
    config.update(task="restore", metadata={"recipe": recipe})
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    read = read_config(tmp_path / "old")
    assert read["family"] == "restore" and read["restores"] == restores and "task" not in read
    assert load_restorer(restores, str(tmp_path / "old")).config["restores"] == restores


def test_older_generator_configs_are_upgraded_and_new_ones_left_alone():
    assert upgrade_config({"task": "generate", "model": "dcgan", "args": {}}) == {
        "family": "generate", "model": "dcgan", "args": {}}
    new = {"family": "restore", "restores": "jpeg", "model": "resunet", "args": {}}
    assert upgrade_config(new) == new


def test_transplant_refuses_other_architectures():
    with pytest.raises(PixelsmithError, match="cannot start from this model"):
        transplant(create_model("dcgan", **SMALL_GAN), create_model("resunet", **SMALL_UNET))


# ---- bundled models ------------------------------------------------------------------------------------
def test_the_bundled_models_include_every_tasks_default():
    from pixelsmith.pipelines.methods import COLOUR_DENOISER, DEFAULT_MODELS

    names = set(list_bundled())
    assert set(DEFAULT_MODELS.values()) | {COLOUR_DENOISER} <= names
    assert any(read_config(n)["family"] == "generate" for n in names)


@pytest.mark.parametrize("name", list_bundled())
def test_bundled_model_does_what_its_family_says(name):
    from pixelsmith.pipelines.methods import TASKS, load_restorer

    model = from_pretrained(name)
    config = read_config(name)
    assert not model.training and (resolve(name) / "model.safetensors").stat().st_size < 20e6
    assert config["family"] in FAMILIES and config["family"] == get_entry(config["model"]).family
    assert model.config["family"] == config["family"]
    if config["family"] == "restore":
        assert config["restores"] in TASKS
        net = load_restorer(config["restores"], name)  # it serves the task it says it restores
        args = config["args"]
        if config["restores"] == "sr":
            x = torch.rand(1, args["channels"], 16, 24, generator=gen(1))
            with torch.no_grad():
                assert all(net(x, s).shape[-2:] == (16 * s, 24 * s) for s in args["scales"])
            return
        x = torch.rand(1, args["channels"], 32, 48, generator=gen(1))
        cond = torch.rand(1, args["cond_channels"], 32, 48, generator=gen(2)) if args["cond_channels"] else None
        if args.get("inpaint"):
            cond = (cond > 0.5).float()
        with torch.no_grad():
            out = net(x, cond) if cond is not None else net(x)
        assert out.shape == x.shape and torch.isfinite(out).all()
    elif config["family"] == "generate":
        a, b = model.sample(4, generator=gen(5)), model.sample(4, generator=gen(5))
        assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1 and a.shape[0] == 4
        assert (a[:2] - a[2:]).abs().mean() > 0.05  # trained: different latents, different images


@pytest.mark.parametrize("name", list_bundled())
def test_bundled_recipe_can_be_retrained(name):
    """`pixelsmith train NAME` starts from the recipe stored in the model: the model it starts from
    (init_from) must ship too, or be the run of a recipe in configs/, and the recipe must pass the trainer's
    checks."""
    from pixelsmith.config import TrainConfig
    from pixelsmith.training.objectives import get_objective
    from pixelsmith.training.trainer import check_compatible

    cfg = TrainConfig.from_dict(read_config(name)["metadata"]["recipe"])
    get_objective(cfg.objective).check_recipe(cfg, get_entry(cfg.model).family)
    if cfg.init_from.startswith("runs/"):  # a run the docs train first, from its recipe in configs/
        assert (ROOT / "configs" / f"{Path(cfg.init_from).name}.json").is_file()
    else:
        check_compatible(cfg)  # with init_from, the bundled model it starts from must exist and fit
