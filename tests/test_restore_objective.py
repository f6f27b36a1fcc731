"""The ``restore`` training objective (pixelsmith.training.restore): supervised restoration of degraded patches
that learns within a few steps, its loss option, and trained runs whose model card says which task they serve."""

import csv

import pytest
import torch
from conftest import gen, restore_recipe

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.catalog import read_config
from pixelsmith.config import TrainConfig
from pixelsmith.training import Trainer, train


def logged(run, metric):
    with open(run / "metrics.csv") as f:
        return [float(r["value"]) for r in csv.DictReader(f) if r["metric"] == metric]


def test_training_changes_weights_and_learns(tmp_path, gray_folder):
    cfg = restore_recipe(gray_folder, steps=30, lr=3e-3, ema_decay=0.0, schedule="constant", warmup=0,
                         sample_every=30)
    Trainer(cfg, tmp_path / "run").fit()
    psnrs = logged(tmp_path / "run", "psnr")
    assert len(psnrs) == 30 and sum(psnrs[-10:]) / 10 > sum(psnrs[:5]) / 5 + 1.0  # better within 30 steps
    assert len(logged(tmp_path / "run", "val_psnr")) == 1  # the held-out preview at the end


@pytest.mark.parametrize("recipe", [{"objective_args": {"loss": "mse"}}, {"loss": "mse"}],
                         ids=["objective_args", "older-top-level-loss"])
def test_the_loss_option(tmp_path, gray_folder, recipe):
    """Same weights and batch at step 1: the logged MSE lies between the squared L1 and the L1 (errors < 1); an
    older recipe's top-level loss means the same."""
    Trainer(restore_recipe(gray_folder, steps=1), tmp_path / "l1").fit()
    values = {k: v for k, v in restore_recipe(gray_folder, steps=1).to_dict().items() if k != "objective_args"}
    Trainer(TrainConfig.from_dict({**values, **recipe}), tmp_path / "mse").fit()
    l1, mse = logged(tmp_path / "l1", "loss")[0], logged(tmp_path / "mse", "loss")[0]
    assert l1 ** 2 <= mse < l1


def test_a_bad_loss_or_a_generative_model_is_refused(tmp_path, gray_folder):
    with pytest.raises(PixelsmithError, match="objective_args.loss='l3' is not known; accepted: l1, mse, psnr"):
        train(restore_recipe(gray_folder, objective_args={"loss": "l3"}), tmp_path / "run")
    with pytest.raises(PixelsmithError, match="objective=restore trains restore models; 'dcgan' is a 'generate'"):
        train(restore_recipe(gray_folder, model="dcgan", model_args={}), tmp_path / "run")
    with pytest.raises(PixelsmithError, match="objective=restore trains on data = patches, not 'mnist'"):
        train(restore_recipe(gray_folder, data="mnist"), tmp_path / "run")


@pytest.mark.parametrize("task,model_args,data_args", [
    ("denoise", {"cond_channels": 1}, {"degradation": "noise", "noise_map": True}),
    ("jpeg", {"cond_channels": 1}, {"degradation": "jpeg"}),
    ("inpaint", {"channels": 3, "cond_channels": 1, "gated": True, "inpaint": True},
     {"degradation": "inpaint", "channels": 3}),
])
def test_trained_runs_serve_their_task(tmp_path, gray_folder, task, model_args, data_args):
    """A short run of each restoration recipe writes a model whose config says what it restores; the task's
    pipeline accepts and runs it, and the other tasks refuse it."""
    from pixelsmith.pipelines.denoise import denoise
    from pixelsmith.pipelines.inpaint import inpaint
    from pixelsmith.pipelines.jpeg import remove_jpeg_artifacts
    from pixelsmith.pipelines.methods import load_restorer

    cfg = restore_recipe(gray_folder, steps=2, sample_every=2,
                         model_args={"widths": [8, 16], "blocks": 1, **model_args},
                         data_args={"patch_size": 32, "holdout": 2, **data_args})
    folder = train(cfg, tmp_path / "run")
    assert read_config(folder)["restores"] == task and read_config(folder)["family"] == "restore"
    x = torch.rand(model_args.get("channels", 1), 40, 48, generator=gen(0))
    if task == "denoise":
        out = denoise(x, 20, model=str(folder), ensemble=False)
    elif task == "jpeg":
        out = remove_jpeg_artifacts(x, 30, model=str(folder))
    else:
        mask = torch.zeros(1, 40, 48)
        mask[:, 10:20, 10:30] = 1
        out = inpaint(x, mask, model=str(folder))
        assert torch.equal(out[:, :10], x[:, :10])
    assert out.shape == x.shape and torch.isfinite(out).all()
    for other in {"denoise", "jpeg", "inpaint"} - {task}:
        with pytest.raises(UsageError, match=f"not a model for {other}"):
            load_restorer(other, str(tmp_path / "run"))  # the run folder itself
