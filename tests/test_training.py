import csv
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from pixelsmith import PixelsmithError
from pixelsmith.config import TrainConfig
from pixelsmith.hub import from_pretrained
from pixelsmith.training import Trainer, train
from pixelsmith.training.tasks import TASKS


def gan_config(root, **kw):
    values = dict(task="gan", model="dcgan", model_args={"width": 8, "latent_dim": 16}, data="mnist",
                  data_root=str(root), steps=6, batch_size=8, lr=1e-3, schedule="cosine", warmup=2,
                  ema_decay=0.9, log_every=1, sample_every=2, ckpt_every=100, seed=1)
    values.update(kw)
    return TrainConfig(**values)


def denoise_config(root, **kw):
    values = dict(task="denoise", model="resunet", model_args={"widths": [8, 16], "blocks": 1}, data="patches",
                  data_root=str(root), data_args={"patch_size": 32, "holdout": 2, "clip_prob": 0.5}, steps=6,
                  batch_size=4, lr=1e-3, betas=(0.9, 0.999), schedule="cosine", warmup=2, ema_decay=0.9,
                  grad_clip=1.0, log_every=1, sample_every=3, ckpt_every=100, seed=2)
    values.update(kw)
    return TrainConfig(**values)


def interrupt_after(monkeypatch, task: str, calls: int):
    """Press Ctrl-C (a real SIGINT) at the start of step `calls` + 1: that step must still complete."""
    original = TASKS[task].step
    count = {"n": 0}

    def step(self, batch, generator):
        if count["n"] == calls:
            os.kill(os.getpid(), signal.SIGINT)
        count["n"] += 1
        return original(self, batch, generator)

    monkeypatch.setattr(TASKS[task], "step", step)
    return lambda: monkeypatch.setattr(TASKS[task], "step", original)


def load_state(run):
    return torch.load(run / "checkpoint.pt", weights_only=True)


@pytest.mark.parametrize("kind", ["gan", "denoise"])
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, monkeypatch, kind, tiny_mnist, gray_folder):
    cfg = gan_config(tiny_mnist) if kind == "gan" else denoise_config(gray_folder)
    train(cfg, tmp_path / "straight", progress=False)

    restore = interrupt_after(monkeypatch, kind, 3)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "resumed", progress=False)
    restore()
    assert load_state(tmp_path / "resumed")["step"] == 4  # Ctrl-C finished the step, then wrote a checkpoint
    train(cfg, tmp_path / "resumed", resume=True, progress=False)

    a, b = load_state(tmp_path / "straight"), load_state(tmp_path / "resumed")
    assert a["step"] == b["step"] == 6
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after resume"
    with open(tmp_path / "resumed" / "metrics.csv") as f:
        rows = [(r["step"], r["metric"]) for r in csv.DictReader(f)]
    assert len(rows) == len(set(rows))  # no step logged twice after the resume
    assert sorted((tmp_path / "resumed" / "samples").iterdir())  # sample grids were written
    exported = from_pretrained(tmp_path / "resumed")  # a run folder works as a model
    assert exported.config["model"] == cfg.model


def test_training_changes_weights_and_learns(tmp_path, gray_folder):
    cfg = denoise_config(gray_folder, steps=30, lr=3e-3, ema_decay=0.0, schedule="constant", warmup=0,
                         sample_every=30)
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    trainer.fit()
    with open(tmp_path / "run" / "metrics.csv") as f:
        psnrs = [float(r["value"]) for r in csv.DictReader(f) if r["metric"] == "psnr"]
    assert sum(psnrs[-10:]) / 10 > sum(psnrs[:5]) / 5 + 1.0  # the denoiser improves within 30 steps


def test_mse_loss_option(tmp_path, gray_folder):
    """Same weights and batch at step 1: the logged MSE lies between the squared L1 and the L1 (errors < 1)."""
    first = {}
    for loss in ("l1", "mse"):
        Trainer(denoise_config(gray_folder, steps=1, loss=loss), tmp_path / loss, progress=False).fit()
        with open(tmp_path / loss / "metrics.csv") as f:
            first[loss] = next(float(r["value"]) for r in csv.DictReader(f) if r["metric"] == "loss")
    assert first["l1"] ** 2 <= first["mse"] < first["l1"]


def test_existing_run_needs_resume_and_resume_needs_run(tmp_path, tiny_mnist):
    cfg = gan_config(tiny_mnist, steps=2)
    train(cfg, tmp_path / "run", progress=False)
    with pytest.raises(PixelsmithError, match="already holds a run"):
        train(cfg, tmp_path / "run", progress=False)
    with pytest.raises(PixelsmithError, match="no checkpoint.pt"):
        train(cfg, tmp_path / "other", resume=True, progress=False)


def test_resume_can_extend_steps(tmp_path, tiny_mnist):
    train(gan_config(tiny_mnist, steps=2, schedule="constant"), tmp_path / "run", progress=False)
    train(gan_config(tiny_mnist), tmp_path / "run", resume=True, overrides=["steps=4"], progress=False)
    assert load_state(tmp_path / "run")["step"] == 4


WORKER = textwrap.dedent("""
    import sys, os, torch
    from pixelsmith.config import TrainConfig
    from pixelsmith.training import Trainer
    cfg = TrainConfig.from_json(sys.argv[1])
    trainer = Trainer(cfg, sys.argv[2], progress=False)
    trainer.fit()
    rank = int(os.environ["RANK"])
    torch.save({k: v.detach() for k, v in trainer.model.named_parameters()}, os.path.join(sys.argv[3], f"rank{rank}.pt"))
    # leave the group as pixelsmith.training.train does: exiting with it alive can abort in gloo's teardown
    # ("terminate called without an active exception", seen once in CI)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
""")


@pytest.mark.parametrize("kind", ["gan", "denoise"])
def test_ddp_two_processes_keep_identical_replicas(tmp_path, kind, tiny_mnist, gray_folder):
    cfg = gan_config(tiny_mnist, steps=4) if kind == "gan" else denoise_config(gray_folder, steps=4)
    cfg.to_json(tmp_path / "cfg.json")
    (tmp_path / "worker.py").write_text(WORKER)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(tmp_path / "worker.py"), str(tmp_path / "cfg.json"), str(tmp_path / "run"), str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    for key in r0:
        assert torch.equal(r0[key], r1[key]), f"replicas differ in {key}"
    saved = load_state(tmp_path / "run")
    assert saved["step"] == 4
    fresh = dict(Trainer(cfg, tmp_path / "fresh", progress=False).model.named_parameters())
    assert any(not torch.equal(fresh[k], r0[k]) for k in r0 if r0[k].is_floating_point())  # it trained


@pytest.mark.parametrize("override,message", [
    (["task=denoise"], "task=denoise needs a 'restore' model; 'dcgan' is a 'generate' model"),
    (["task=restore"], "task=restore needs a 'restore' model"),
    (["data=patches"], "trains on data"),
    (["data_args.gan_loss=wgan"], "accepted: nonsaturating"),
    (["data_args.colour=3"], "bad data_args"),
])
def test_incompatible_recipes_are_refused(tmp_path, tiny_mnist, override, message):
    with pytest.raises(PixelsmithError, match=message):
        train(gan_config(tiny_mnist).override(override), tmp_path / "run", progress=False)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, tiny_mnist):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PixelsmithError, match="not a readable pixelsmith checkpoint"):
        train(gan_config(tiny_mnist), tmp_path / "run", resume=True, progress=False)


def test_restoration_model_cannot_train_as_a_gan(tmp_path, gray_folder):
    with pytest.raises(PixelsmithError, match="task=gan needs a 'generate' model; 'resunet' is a 'restore' model"):
        train(denoise_config(gray_folder, task="gan"), tmp_path / "run", progress=False)


@pytest.mark.parametrize("task,model_args,data_args", [
    ("denoise", {"cond_channels": 1}, {"degradation": "noise", "noise_map": True}),
    ("jpeg", {"cond_channels": 1}, {"degradation": "jpeg"}),
    ("inpaint", {"channels": 3, "cond_channels": 1, "gated": True, "inpaint": True},
     {"degradation": "inpaint", "channels": 3}),
])
def test_trained_runs_serve_their_task(tmp_path, gray_folder, task, model_args, data_args):
    """A short run of each restoration recipe writes a model that the task's pipeline accepts and runs,
    and that the other tasks refuse."""
    from pixelsmith import UsageError
    from pixelsmith.pipelines import tasks as T

    cfg = denoise_config(gray_folder, task="restore", steps=2, sample_every=2,
                         model_args={"widths": [8, 16], "blocks": 1, **model_args},
                         data_args={"patch_size": 32, "holdout": 2, **data_args})
    folder = train(cfg, tmp_path / "run", progress=False)
    x = torch.rand(model_args.get("channels", 1), 40, 48, generator=torch.Generator().manual_seed(0))
    if task == "denoise":
        out = T.denoise(x, sigma=20, model=str(folder), ensemble=False)
    elif task == "jpeg":
        out = T.remove_jpeg_artifacts(x, 30, model=str(folder))
    else:
        mask = torch.zeros(1, 40, 48)
        mask[:, 10:20, 10:30] = 1
        out = T.inpaint(x, mask, model=str(folder))
        assert torch.equal(out[:, :10], x[:, :10])
    assert out.shape == x.shape and torch.isfinite(out).all()
    for other in {"denoise", "jpeg", "inpaint"} - {task}:
        with pytest.raises(UsageError, match=f"not a model for {other}"):
            T.load_restorer(other, str(tmp_path / "run"))  # the run folder itself, a name not cached yet


def small_gray_model(folder):
    from pixelsmith.hub import save_pretrained
    from pixelsmith.registry import create_model

    model = create_model("resunet", widths=[8, 16], blocks=1)
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    save_pretrained(model, folder)
    return model.eval()


def test_init_from_with_model_args_transplants_the_weights(tmp_path, gray_folder):
    """Starting a noise-map model from a blind one: at step 0 it computes what the blind model does."""
    source = small_gray_model(tmp_path / "blind")
    cfg = denoise_config(gray_folder, task="restore", init_from=str(tmp_path / "blind"),
                         model_args={"widths": [8, 16], "blocks": 1, "cond_channels": 1},
                         data_args={"patch_size": 32, "holdout": 2, "noise_map": True})
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    model = trainer.model.eval()
    assert model.cond_channels == 1
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model(x, torch.full_like(x, 0.1)), source(x))
    plain = Trainer(denoise_config(gray_folder, init_from=str(tmp_path / "blind"), model_args={}),
                    tmp_path / "run2", progress=False).model  # no model_args: the model as it is
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), source.state_dict().values()))
