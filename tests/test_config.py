import json

import pytest

from pixelsmith import PixelsmithError
from pixelsmith.config import TrainConfig


def test_restore_task_and_its_older_name():
    assert TrainConfig(task="restore").task == "restore"
    assert TrainConfig(task="denoise").task == "denoise"  # older recipes keep working


def test_json_roundtrip(tmp_path):
    cfg = TrainConfig(task="denoise", model="resunet", model_args={"widths": [8, 16]}, steps=7, betas=(0.9, 0.99))
    cfg.to_json(tmp_path / "c.json")
    assert TrainConfig.from_json(tmp_path / "c.json") == cfg


def test_overrides_typed_and_nested():
    cfg = TrainConfig().override(["steps=12", "lr=1e-3", "bf16=true", "model_args.width=8", "data_root=/tmp/x"])
    assert cfg.steps == 12 and cfg.lr == 1e-3 and cfg.bf16 is True
    assert cfg.model_args == {"width": 8} and cfg.data_root == "/tmp/x"
    assert TrainConfig().override(["lr=1"]).lr == 1.0  # an int is accepted where a float is expected


@pytest.mark.parametrize("assignment,message", [
    ("stepz=3", "unknown config key"),
    ("steps=abc", "must be int"),
    ("steps=0", "positive"),
    ("bf16=3", "must be bool"),
    ("task=paint", "accepted: gan, restore, denoise"),
    ("ema_decay=1.5", r"\[0, 1\)"),
    ("loss=l3", "accepted: l1, mse, psnr"),
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
