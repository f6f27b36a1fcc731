"""Quality during training (pixelsmith.training.evaluation): FID and class figures logged every eval_every steps
and shown in the progress events, the best model kept as out/best across a resume; and the checks that stop a
run whose data cannot feed its model (own folders: empty, too few images, other sizes, other classes)."""

import csv
import json
import logging

import numpy as np
import pytest
import torch
from conftest import gan_recipe
from PIL import Image

from pixelsmith import Cancelled, PixelsmithError
from pixelsmith.config import TrainConfig
from pixelsmith.hub import from_pretrained, save_pretrained
from pixelsmith.registry import create_model
from pixelsmith.training import train


@pytest.fixture
def judge(tmp_path):
    torch.manual_seed(0)
    return save_pretrained(create_model("classifier", width=4, features=16).eval(), tmp_path / "judge")


def rows(run, metric):
    with open(run / "metrics.csv") as f:
        return {int(r["step"]): float(r["value"]) for r in csv.DictReader(f) if r["metric"] == metric}


def test_fid_is_logged_shown_and_the_best_model_kept_across_a_resume(tmp_path, tiny_mnist, judge):
    cfg = gan_recipe(tiny_mnist, eval_every=2, eval_samples=16, eval_classifier=str(judge))
    events = []

    def stop_at_four(event):
        events.append(event)
        if event.done == 4:
            raise Cancelled

    with pytest.raises(Cancelled):
        train(cfg, tmp_path / "run", progress=stop_at_four)
    train(cfg, tmp_path / "run", resume=True, progress=events.append)
    fid = rows(tmp_path / "run", "fid")
    assert sorted(fid) == [2, 4, 6] and all(v >= 0 for v in fid.values())
    assert sorted(rows(tmp_path / "run", "class_spread")) == [2, 4, 6]
    shown = {e.done: e.info for e in events if "fid" in e.info}
    assert sorted(shown) == [2, 4, 6] and shown[6]["best_fid"] == pytest.approx(min(fid.values()), rel=1e-5)
    best_step = min(fid, key=fid.get)
    best = json.loads((tmp_path / "run" / "best" / "config.json").read_text())["metadata"]
    assert best["step"] == best_step and best["train_fid"] == pytest.approx(fid[best_step], rel=1e-5)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert saved["best"] == pytest.approx({"fid": min(fid.values()), "step": best_step}, rel=1e-5)
    assert from_pretrained(tmp_path / "run" / "best").sample(2).shape == (2, 1, 28, 28)


def test_no_evaluation_without_a_feature_network_for_the_data(tmp_path, tiny_mnist):
    root = folder_of(tmp_path / "own", [28] * 4, channels=1)  # a folder: no bundled classifier knows its images
    train(gan_recipe(root, eval_every=1, steps=2, data="folder", batch_size=4), tmp_path / "run")
    assert rows(tmp_path / "run", "fid") == {} and not (tmp_path / "run" / "best").exists()


def folder_of(root, sizes, classes=("a", "b"), channels=3):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i, s in enumerate(sizes):
            shape = (s, s, 3) if channels == 3 else (s, s)
            Image.fromarray(np.random.default_rng(i).integers(0, 255, shape, dtype=np.uint8)).save(root / c / f"{i}.png")
    return root


def folder_recipe(root, **changes):
    values = dict(objective="gan", model="cgan", model_args={"width": 4, "latent_dim": 8, "num_classes": 2,
                                                               "size": 32, "channels": 3},
                  data="folder", data_root=str(root), data_args={"size": 32, "channels": 3}, steps=2, batch_size=4,
                  log_every=1, sample_every=2, ckpt_every=100)
    return TrainConfig.from_dict(values | changes)


def test_a_conditional_gan_trains_on_an_own_folder_of_classes(tmp_path, caplog):
    root = folder_of(tmp_path / "own", [32, 40, 32])
    with caplog.at_level(logging.WARNING, logger="pixelsmith"):
        folder = train(folder_recipe(root), tmp_path / "run")
    assert "2 of 6 images are not 32x32 (sizes: 32x32, 40x40); they are resized to 32x32" in caplog.text
    model = from_pretrained(folder)
    assert model.sample(3, label=1).shape == (3, 3, 32, 32)


def test_data_that_cannot_feed_the_model_is_refused(tmp_path):
    root = folder_of(tmp_path / "own", [32, 32, 32])
    (tmp_path / "empty").mkdir()
    cases = [
        (folder_recipe(tmp_path / "empty"), "no images found"),
        (folder_recipe(root, batch_size=8), "6 images, fewer than one batch \\(batch_size=8\\)"),
        (folder_recipe(root, model_args={"width": 4, "latent_dim": 8, "num_classes": 3, "size": 32, "channels": 3}),
         r"2 classes \(class subfolders or labels\) but the model has num_classes=3; set model_args.num_classes=2"),
        (folder_recipe(root, data_args={"size": 28, "channels": 3}),
         "the data's images are 3x28x28 .* but the model makes 3x32x32"),
        (folder_recipe(root, data_args={"size": 32, "channels": 2}), "data_args.channels=2 is not supported"),
    ]
    for i, (cfg, message) in enumerate(cases):
        with pytest.raises(PixelsmithError, match=message):
            train(cfg, tmp_path / f"run{i}")
        assert not (tmp_path / f"run{i}" / "checkpoint.pt").exists()


@pytest.mark.cli
def test_the_command_line_trains_on_a_folder_and_draws_a_chosen_class(capsys, tmp_path):
    from conftest import run_main

    root = folder_of(tmp_path / "own", [28] * 4, channels=1)
    code, out, err = run_main(capsys, "train", "cgan-mnist", f"data_root={root}", "data=folder", "steps=2",
                              "batch_size=4", "model_args.width=4", "model_args.num_classes=2", "eval_every=0",
                              "--out", tmp_path / "run", "--no-progress")
    assert code == 0, err
    code, out, err = run_main(capsys, "generate", "--model", tmp_path / "run", "-n", 3, "-o", tmp_path / "ones",
                              "--class", 1)
    assert code == 0 and sorted(p.name for p in (tmp_path / "ones").iterdir()) == ["000000.png", "000001.png",
                                                                                   "000002.png"]
    code, out, err = run_main(capsys, "generate", "--model", tmp_path / "run", "-n", 3, "-o", tmp_path / "x",
                              "--class", 2)
    assert code == 2 and "--class 2 is out of range; this model draws classes 0 to 1" in err
    assert not (tmp_path / "x").exists()
