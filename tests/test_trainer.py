"""The training loop (pixelsmith.training.trainer), the same for every objective: data order, schedules, EMA,
progress events, atomic checkpoints, Ctrl-C that finishes the step and saves, exact resume, DDP replicas, and
one-line errors for recipes and run folders that cannot work."""

import csv
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import gan_recipe, restore_recipe

from pixelsmith import PixelsmithError
from pixelsmith.config import TrainConfig
from pixelsmith.hub import from_pretrained
from pixelsmith.training import Trainer, train
from pixelsmith.training.trainer import StepBatches, lr_factor

RECIPES = {"gan": lambda mnist, folder, **kw: gan_recipe(mnist, **kw),
           "restore": lambda mnist, folder, **kw: restore_recipe(folder, **kw)}


def load_state(run):
    return torch.load(run / "checkpoint.pt", weights_only=True)


def ctrl_c_at(step):
    """A progress callback that presses Ctrl-C (a real SIGINT) when step ``step`` is reported."""
    def progress(event):
        if event.done == step:
            os.kill(os.getpid(), signal.SIGINT)
    return progress


@pytest.mark.parametrize("kind", RECIPES)
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, capsys, kind, tiny_mnist, gray_folder):
    cfg = RECIPES[kind](tiny_mnist, gray_folder)
    events = []
    train(cfg, tmp_path / "straight", progress=events.append)
    assert capsys.readouterr() == ("", "")  # the library prints nothing; the callback shows progress
    assert [(e.stage, e.done, e.total) for e in events] == [("steps", s, 6) for s in range(1, 7)]
    assert all(e.info and "img_per_s" in e.info for e in events)
    assert [e.preview is not None for e in events] == [s % cfg.sample_every == 0 or s == 6 for s in range(1, 7)]
    grid = next(e.preview for e in events if e.preview is not None)
    assert grid.ndim == 3 and 0 <= grid.min() and grid.max() <= 1

    before = signal.getsignal(signal.SIGINT)  # the default handler, or SIG_IGN in a background job
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "resumed", progress=ctrl_c_at(4))
    assert load_state(tmp_path / "resumed")["step"] == 4  # Ctrl-C finished the step, then wrote a checkpoint
    assert signal.getsignal(signal.SIGINT) is before  # the handler is given back
    train(cfg, tmp_path / "resumed", resume=True)

    a, b = load_state(tmp_path / "straight"), load_state(tmp_path / "resumed")
    assert a["step"] == b["step"] == 6
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after resume"
    with open(tmp_path / "resumed" / "metrics.csv") as f:
        rows = [(r["step"], r["metric"]) for r in csv.DictReader(f)]
    assert len(rows) == len(set(rows))  # no step logged twice after the resume
    assert sorted(p.name for p in (tmp_path / "resumed" / "samples").iterdir()) == sorted(
        p.name for p in (tmp_path / "straight" / "samples").iterdir())
    exported = from_pretrained(tmp_path / "resumed")  # a run folder works as a model
    assert exported.config["model"] == cfg.model
    assert TrainConfig.from_json(tmp_path / "resumed" / "recipe.json") == cfg


def test_existing_run_needs_resume_and_resume_needs_run(tmp_path, tiny_mnist):
    cfg = gan_recipe(tiny_mnist, steps=2)
    train(cfg, tmp_path / "run")
    with pytest.raises(PixelsmithError, match="already holds a run; pass resume=True"):
        train(cfg, tmp_path / "run")
    with pytest.raises(PixelsmithError, match="no checkpoint.pt to resume from"):
        train(cfg, tmp_path / "other", resume=True)


def test_resume_can_extend_steps(tmp_path, tiny_mnist):
    train(gan_recipe(tiny_mnist, steps=2, schedule="constant"), tmp_path / "run")
    train(gan_recipe(tiny_mnist), tmp_path / "run", resume=True, overrides=["steps=4"])
    assert load_state(tmp_path / "run")["step"] == 4
    assert load_state(tmp_path / "run")["config"]["steps"] == 4


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, tiny_mnist):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PixelsmithError, match="not a readable pixelsmith checkpoint"):
        train(gan_recipe(tiny_mnist), tmp_path / "run", resume=True)
    for foreign in ({}, {"weights": {}}, [1, 2]):
        torch.save(foreign, tmp_path / "run" / "checkpoint.pt")
        with pytest.raises(PixelsmithError, match="not a pixelsmith checkpoint .no config, step and model"):
            train(gan_recipe(tiny_mnist), tmp_path / "run", resume=True)


def test_a_checkpoint_from_a_newer_layout_is_refused(tmp_path, tiny_mnist):
    train(gan_recipe(tiny_mnist, steps=2), tmp_path / "run")
    state = load_state(tmp_path / "run")
    assert state["pixelsmith_checkpoint"] == 2
    state["pixelsmith_checkpoint"] = 99
    torch.save(state, tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(PixelsmithError, match="layout version 99, written by a newer pixelsmith"):
        train(gan_recipe(tiny_mnist), tmp_path / "run", resume=True)


@pytest.mark.parametrize("override,message", [
    (["objective=restore"], "objective=restore trains restore models; 'dcgan' is a 'generate' model"),
    (["objective=paint"], "objective='paint' is not known; accepted: .*gan.*restore"),
    (["data=patches"], "objective=gan trains on data = mnist or fashion-mnist or folder, not 'patches'"),
    (["objective_args.loss=wgan"], "objective_args.loss='wgan' is not known; accepted: nonsaturating"),
    (["data_args.gan_loss=wgan"], "objective_args.loss='wgan' is not known"),  # the older key, upgraded
    (["objective_args.critics=2"], "objective 'gan' has no option critics; accepted: betas_d"),
    (["data_args.colour=3"], "bad data_args"),
])
def test_incompatible_recipes_are_refused(tmp_path, tiny_mnist, override, message):
    with pytest.raises(PixelsmithError, match=message):
        train(gan_recipe(tiny_mnist).override(override), tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


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
    cfg = restore_recipe(gray_folder, init_from=str(tmp_path / "blind"),
                         model_args={"widths": [8, 16], "blocks": 1, "cond_channels": 1},
                         data_args={"patch_size": 32, "holdout": 2, "noise_map": True})
    model = Trainer(cfg, tmp_path / "run").model.eval()
    assert model.cond_channels == 1
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model(x, torch.full_like(x, 0.1)), source(x))
    plain = Trainer(restore_recipe(gray_folder, init_from=str(tmp_path / "blind"), model_args={}),
                    tmp_path / "run2").model  # no model_args: the model as it is
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), source.state_dict().values()))


def test_init_from_a_generator_for_a_restore_objective_is_refused(tmp_path, gray_folder):
    with pytest.raises(PixelsmithError, match="objective=restore trains restore models; 'resunet' is a 'generate'"):
        Trainer(restore_recipe(gray_folder, init_from="dcgan-mnist", model_args={}), tmp_path / "run")


def test_learning_rate_warms_up_then_follows_its_schedule():
    cosine = TrainConfig(steps=10, warmup=2, schedule="cosine", min_lr_ratio=0.1)
    factors = [lr_factor(cosine, s) for s in range(12)]
    assert factors[:2] == [0.5, 1.0] and factors[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[2:], factors[3:])) and factors[10] == pytest.approx(0.1)
    assert factors[11] == pytest.approx(0.1)  # past the end it stays at the floor
    constant = TrainConfig(steps=10, warmup=4, schedule="constant")
    assert [lr_factor(constant, s) for s in (0, 3, 4, 9)] == [0.25, 1.0, 1.0, 1.0]


def test_data_order_is_a_function_of_the_step_and_ranks_share_a_batch():
    full = StepBatches(10, 4, seed=3, start=0, stop=6)
    steps = list(full)
    assert len(steps) == len(full) == 6 and all(len(k) == 4 for k in steps)
    epoch0 = [k for keys in steps for k in keys][:10]
    assert sorted(epoch0) == list(range(10))  # every item once per epoch
    resumed = StepBatches(10, 4, seed=3, start=4, stop=6)
    assert list(resumed) == steps[4:]  # a resumed run sees the data it would have seen
    ranks = [list(StepBatches(10, 4, seed=3, start=0, stop=6, rank=r, world=2)) for r in (0, 1)]
    for step, keys in enumerate(steps):
        assert sorted(ranks[0][step] + ranks[1][step]) == sorted(keys)


WORKER = textwrap.dedent("""
    import sys, os, torch
    from pixelsmith.config import TrainConfig
    from pixelsmith.training import Trainer
    cfg = TrainConfig.from_json(sys.argv[1])
    trainer = Trainer(cfg, sys.argv[2])
    trainer.fit()
    rank = int(os.environ["RANK"])
    weights = {k: v.detach() for k, v in trainer.model.named_parameters()}
    torch.save(weights, os.path.join(sys.argv[3], f"rank{rank}.pt"))
    # leave the group as pixelsmith.training.train does: exiting with it alive can abort in gloo's teardown
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
""")


@pytest.mark.slow
@pytest.mark.ddp
@pytest.mark.parametrize("kind", RECIPES)
def test_ddp_two_processes_keep_identical_replicas(tmp_path, kind, tiny_mnist, gray_folder):
    cfg = RECIPES[kind](tiny_mnist, gray_folder, steps=4)
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
    fresh = dict(Trainer(cfg, tmp_path / "fresh").model.named_parameters())
    assert any(not torch.equal(fresh[k], r0[k]) for k in r0 if r0[k].is_floating_point())  # it trained


def test_a_checkpoint_of_the_previous_layout_resumes(tmp_path, tiny_mnist):
    """Before objectives, a checkpoint's recipe said task/loss and its EMA covered the whole model (generator and
    discriminator); such a run resumes, and its generator's average is kept."""
    train(gan_recipe(tiny_mnist, steps=2), tmp_path / "run")
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    config = {k: v for k, v in state["config"].items() if k not in ("objective", "objective_args")}
    state["config"] = config | {"task": "gan", "loss": "l1"}
    raw = state["model"]
    generator_ema = {k: v for k, v in state["ema"].items() if k.startswith("module.")}
    old_ema = {"module.generator." + k[len("module."):]: v for k, v in generator_ema.items()}
    old_ema |= {"module." + k: v for k, v in raw.items() if k.startswith("discriminator.")}
    state["ema"] = old_ema | {k: v for k, v in state["ema"].items() if not k.startswith("module.")}
    torch.save(state, path)
    trainer = Trainer(gan_recipe(tiny_mnist, steps=2), tmp_path / "run", resume=True, overrides=["steps=3"])
    assert trainer.cfg.objective == "gan" and trainer.step == 2
    for key, value in generator_ema.items():
        torch.testing.assert_close(trainer.ema.state_dict()[key], value)
    trainer.fit()
    assert torch.load(path, weights_only=True)["step"] == 3
