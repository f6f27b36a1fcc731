"""Training recipes (pixelsmith.config): typed TrainConfig, JSON in and out, key=value overrides with nested
keys, clear errors, and older recipes (task, loss, data_args.gan_loss) upgraded to today's keys."""

import json
from pathlib import Path

import pytest

from pixelsmith import PixelsmithError
from pixelsmith.config import TrainConfig, upgrade_recipe

ROOT = Path(__file__).resolve().parents[1]


def test_json_roundtrip(tmp_path):
    cfg = TrainConfig(objective="restore", objective_args={"loss": "mse"}, model="resunet",
                      model_args={"widths": [8, 16]}, steps=7, betas=(0.9, 0.99))
    cfg.to_json(tmp_path / "c.json")
    assert TrainConfig.from_json(tmp_path / "c.json") == cfg
    assert json.loads((tmp_path / "c.json").read_text())["objective_args"] == {"loss": "mse"}


def test_overrides_typed_and_nested():
    cfg = TrainConfig().override(["steps=12", "lr=1e-3", "bf16=true", "model_args.width=8", "data_root=/tmp/x",
                                  "objective_args.n_critic=3", "betas=[0.1, 0.2]"])
    assert cfg.steps == 12 and cfg.lr == 1e-3 and cfg.bf16 is True and cfg.betas == (0.1, 0.2)
    assert cfg.model_args == {"width": 8} and cfg.data_root == "/tmp/x" and cfg.objective_args == {"n_critic": 3}
    assert TrainConfig().override(["lr=1"]).lr == 1.0  # an int is accepted where a float is expected
    twice = cfg.override(["model_args.latent_dim=4"])
    assert twice.model_args == {"width": 8, "latent_dim": 4}  # a nested key joins the others


@pytest.mark.parametrize("assignment,message", [
    ("stepz=3", "unknown config key"),
    ("steps=abc", "must be int"),
    ("steps=0", "positive"),
    ("bf16=3", "must be bool"),
    ("data=imagenet", "data='imagenet' is not known; accepted: mnist, fashion-mnist, folder, patches"),
    ("schedule=linear", "accepted: constant, cosine"),
    ("ema_decay=1.5", r"\[0, 1\)"),
    ("lr=0", "lr=0.0 must be > 0"),
    ("warmup=-1", "must be >= 0"),
    ("novalue", "key=value"),
    ("lr.x=3", "dotted"),
])
def test_bad_values_are_clear(assignment, message):
    with pytest.raises(PixelsmithError, match=message):
        TrainConfig().override([assignment])


def test_bad_json_file(tmp_path):
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(PixelsmithError, match="not valid JSON"):
        TrainConfig.from_json(tmp_path / "c.json")
    (tmp_path / "d.json").write_text(json.dumps([1, 2]))
    with pytest.raises(PixelsmithError, match="JSON object"):
        TrainConfig.from_json(tmp_path / "d.json")
    with pytest.raises(PixelsmithError, match="cannot read"):
        TrainConfig.from_json(tmp_path / "missing.json")


# ---- older recipes -------------------------------------------------------------------------------------
def test_older_restoration_recipes_load_with_their_loss():
    """'task' is now 'objective' ('denoise' was the older name of 'restore'); the top-level 'loss' belongs to
    the restore objective."""
    for task in ("denoise", "restore"):
        cfg = TrainConfig.from_dict({"task": task, "model": "resunet", "data": "patches", "loss": "psnr"})
        assert cfg.objective == "restore" and cfg.objective_args == {"loss": "psnr"}


def test_older_gan_recipes_load_with_their_gan_loss():
    cfg = TrainConfig.from_dict({"task": "gan", "loss": "l1", "data_args": {"gan_loss": "hinge", "size": 28}})
    assert cfg.objective == "gan" and cfg.objective_args == {"loss": "hinge"}  # the unused restoration loss goes
    assert cfg.data_args == {"size": 28}


def test_upgrading_keeps_todays_keys_and_does_not_change_its_input():
    new = {"objective": "restore", "objective_args": {"loss": "mse"}, "model": "resunet"}
    assert upgrade_recipe(new) == new
    old = {"task": "denoise", "loss": "mse"}
    upgrade_recipe(old)
    assert old == {"task": "denoise", "loss": "mse"}


def test_every_recipe_in_configs_loads():
    from pixelsmith.training.objectives import list_objectives

    recipes = sorted((ROOT / "configs").glob("*.json"))
    assert recipes
    for path in recipes:
        cfg = TrainConfig.from_json(path)
        assert cfg.objective in list_objectives(), path.name


def test_an_old_style_loss_override_is_not_dropped_silently():
    """`pixelsmith train resunet-denoise-gray loss=mse`: the bundled recipe has objective_args.loss=psnr; the
    override takes effect; on a GAN recipe a GAN loss does too."""
    cfg = TrainConfig(objective="restore", objective_args={"loss": "psnr"}, model="resunet", data="patches")
    assert cfg.override(["loss=mse"]).objective_args["loss"] == "mse"
    gan = TrainConfig(objective="gan", objective_args={"loss": "nonsaturating"})
    assert gan.override(["loss=hinge"]).objective_args["loss"] == "hinge"
    assert gan.override(["data_args.gan_loss=wasserstein"]).objective_args["loss"] == "wasserstein"
