"""The objectives registry: every registered objective parses its typed options and refuses bad ones; a new
objective is one class and its registration, trained, interrupted and resumed by the unchanged Trainer."""

import csv
from dataclasses import dataclass

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from pixelsmith import Cancelled, PixelsmithError
from pixelsmith.config import TrainConfig
from pixelsmith.registry import get_entry, list_models
from pixelsmith.training import train
from pixelsmith.training.objectives import Objective, get_objective, list_objectives, register_objective


@dataclass
class ToyArgs:
    noise: float = 0.1
    momentum: float = 0.9


@register_objective("toy-denoise")
class ToyDenoise(Objective):
    """Registered only here: a restoration model learns to remove fixed-level noise from folder images with SGD
    and momentum; it reports how many labels reached it."""

    families = ("restore",)
    datasets = ("folder",)
    Args = ToyArgs
    example_args = {"noise": 0.2}
    example_model = "resunet"

    def __init__(self, cfg, model, wrap):
        super().__init__(cfg, model, wrap)
        self.net = wrap(model)
        self.optimizers["sgd"] = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=self.args.momentum)

    def step(self, batch, generator):
        clean, labels = batch
        noisy = clean + self.args.noise * torch.randn(clean.shape, generator=generator)
        loss = (self.net(noisy) - clean).pow(2).mean()
        self.update("sgd", loss, self.model.parameters())
        return {"loss": loss.item(), "labels": float(labels.numel())}

    def preview(self, model, held_out):
        clean, _ = held_out
        return torch.cat([clean, model(clean).clamp(0, 1)]), clean.shape[0], {}


def test_every_objective_parses_its_example_args_and_refuses_bad_ones():
    assert {"restore", "gan", "toy-denoise"} <= set(list_objectives())
    for name in list_objectives():
        objective = get_objective(name)
        assert objective.families and objective.datasets
        objective.parse_args(objective.example_args)
        with pytest.raises(PixelsmithError, match="has no option"):
            objective.parse_args({"no_such_option": 1})
    with pytest.raises(PixelsmithError, match="objective_args.n_critic"):
        get_objective("gan").parse_args({"n_critic": "two"})
    with pytest.raises(PixelsmithError, match="n_critic=0 must be at least 1"):
        get_objective("gan").parse_args({"n_critic": 0})
    with pytest.raises(PixelsmithError, match="accepted: l1, mse, psnr"):
        get_objective("restore").parse_args({"loss": "hinge"})
    with pytest.raises(PixelsmithError, match="objective='nope' is not known"):
        get_objective("nope")


def test_an_objective_registered_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register_objective("toy-denoise")(ToyDenoise)


@pytest.fixture
def labelled_folder(tmp_path):
    from skimage import data

    camera = data.camera()
    for i in range(8):
        folder = tmp_path / "images" / f"class{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(camera[i * 60:i * 60 + 32, 100:132]).save(folder / f"{i}.png")
    return tmp_path / "images"


def toy_recipe(root, **changes):
    values = dict(objective="toy-denoise", objective_args={"noise": 0.2}, model="resunet",
                  model_args=get_entry("resunet").example_args, data="folder", data_root=str(root),
                  data_args={"size": 32}, steps=6, batch_size=4, lr=0.05, ema_decay=0.5, log_every=1,
                  sample_every=3, ckpt_every=100)
    return TrainConfig.from_dict(values | changes)


def test_a_toy_objective_trains_stops_and_resumes_to_identical_weights(tmp_path, labelled_folder):
    cfg = toy_recipe(labelled_folder)
    events = []
    train(cfg, tmp_path / "whole", progress=events.append)
    assert [e.done for e in events] == [1, 2, 3, 4, 5, 6]
    assert all(e.info["labels"] == 4 for e in events)  # the labels reach the objective
    assert events[2].preview is not None and events[2].preview.shape[-1] > 32  # a grid, at sample_every

    def stop_at_three(event):
        if event.done == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        train(cfg, tmp_path / "split", progress=stop_at_three)
    saved = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 3 and "sgd" in saved["optimizers"]
    train(cfg, tmp_path / "split", resume=True)
    whole = load_file(tmp_path / "whole" / "model" / "model.safetensors")
    split = load_file(tmp_path / "split" / "model" / "model.safetensors")
    assert whole.keys() == split.keys()
    for name in whole:
        torch.testing.assert_close(split[name], whole[name], rtol=0, atol=0)


@pytest.fixture
def data_for(tmp_path, labelled_folder, tiny_mnist, gray_folder):
    """(data_root, data_args) of a tiny data set of each kind an objective may declare."""
    return {"mnist": (tiny_mnist, {}), "fashion-mnist": (tiny_mnist, {}), "folder": (labelled_folder, {"size": 32}),
            "patches": (gray_folder, {"patch_size": 32, "holdout": 2}),
            "moving-mnist": (tiny_mnist, {"frames": 5, "length": 16})}


def train_whole_and_interrupted(cfg, tmp_path):
    """``cfg`` trained into tmp_path/whole in one go, and into tmp_path/split stopped after step 2 and resumed."""
    train(cfg, tmp_path / "whole")

    def stop_at_two(event):
        if event.done == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        train(cfg, tmp_path / "split", progress=stop_at_two)
    train(cfg, tmp_path / "split", resume=True)


@pytest.mark.parametrize("name", list_objectives())
def test_every_objective_trains_stops_and_resumes_exactly(tmp_path, data_for, name):
    """Each registered objective, with its example options, on the first model family and data set it takes."""
    objective = get_objective(name)
    model = objective.example_model or list_models(objective.families[0])[0]
    root, data_args = data_for[objective.datasets[0]]
    data_args = data_args | objective.example_data_args
    cfg = TrainConfig.from_dict(dict(objective=name, objective_args=objective.example_args, model=model,
                                     model_args=get_entry(model).example_args, data=objective.datasets[0],
                                     data_root=str(root), data_args=data_args, steps=4, batch_size=4, lr=1e-3,
                                     ema_decay=0.5, log_every=1, sample_every=2, ckpt_every=100))
    train_whole_and_interrupted(cfg, tmp_path)
    whole = load_file(tmp_path / "whole" / "model" / "model.safetensors")
    split = load_file(tmp_path / "split" / "model" / "model.safetensors")
    for key in whole:
        torch.testing.assert_close(split[key], whole[key], rtol=0, atol=0)
    assert (tmp_path / "split" / "samples" / "step_0000004.png").is_file()


def test_the_trainer_refuses_data_and_models_an_objective_does_not_take(tmp_path, labelled_folder, tiny_mnist):
    with pytest.raises(PixelsmithError, match="trains on data = folder, not 'mnist'"):
        train(toy_recipe(tiny_mnist, data="mnist", data_args={}), tmp_path / "a")
    with pytest.raises(PixelsmithError, match="trains restore models; 'dcgan' is a 'generate' model"):
        train(toy_recipe(labelled_folder, model="dcgan", model_args={}), tmp_path / "b")


def gan_recipe(root, **changes):
    values = dict(objective="gan", model="dcgan", model_args=get_entry("dcgan").example_args, data="mnist",
                  data_root=str(root), steps=4, batch_size=8, lr=1e-3, log_every=1, sample_every=4, ckpt_every=100)
    return TrainConfig.from_dict(values | changes)


def metrics(run):
    with open(run / "metrics.csv") as f:
        return {(int(r["step"]), r["metric"]): float(r["value"]) for r in csv.DictReader(f)}


def test_wgan_gp_with_several_critic_updates_and_separate_learning_rates(tmp_path, tiny_mnist):
    cfg = gan_recipe(tiny_mnist, objective_args=get_objective("gan").example_args)
    train(cfg, tmp_path / "wgan")
    logged = metrics(tmp_path / "wgan")
    assert all((step, "gp") in logged and (step, "d_loss") in logged for step in range(1, 5))
    assert all(torch.isfinite(torch.tensor(v)) for v in logged.values())
    saved = torch.load(tmp_path / "wgan" / "checkpoint.pt", weights_only=True)
    lrs = {name: opt["param_groups"][0]["lr"] for name, opt in saved["optimizers"].items()}
    assert lrs == {"generator": pytest.approx(1e-3), "discriminator": pytest.approx(4e-4)}  # lr, and lr_d


def test_gan_ema_averages_the_generator_only(tmp_path, tiny_mnist):
    train(gan_recipe(tiny_mnist, ema_decay=0.5), tmp_path / "ema")
    exported = load_file(tmp_path / "ema" / "model" / "model.safetensors")
    raw = torch.load(tmp_path / "ema" / "checkpoint.pt", weights_only=True)["model"]
    generator = [k for k in exported if k.startswith("generator.") and exported[k].is_floating_point()]
    discriminator = [k for k in exported if k.startswith("discriminator.")]
    assert any(not torch.equal(exported[k], raw[k]) for k in generator)  # averaged
    assert all(torch.equal(exported[k], raw[k]) for k in discriminator)  # published as trained


@pytest.mark.parametrize("model", list_models("generate"))
def test_every_generator_trains_stops_and_resumes_to_identical_weights(tmp_path, tiny_mnist, model):
    """Each generative architecture with the objective that trains it (spectral norm's power-iteration vectors,
    the VAE's KL warm-up, the critic steps, the diffusion objective's dropped labels and the PixelCNN's dynamic
    binarisation included)."""
    objective = {"vae": "vae", "ddpm": "diffusion", "pixelcnn": "autoregressive"}.get(model, "gan")
    model_args = get_entry(model).example_args | ({"num_classes": 10} if model == "cgan" else {})
    cfg = TrainConfig.from_dict(dict(objective=objective, objective_args=get_objective(objective).example_args,
                                     model=model, model_args=model_args, data="mnist", data_root=str(tiny_mnist),
                                     steps=4, batch_size=4, lr=1e-3, ema_decay=0.5, log_every=1, sample_every=2,
                                     ckpt_every=100))
    train_whole_and_interrupted(cfg, tmp_path)
    whole = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)["model"]
    split = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)["model"]
    assert whole.keys() == split.keys()
    for key in whole:
        torch.testing.assert_close(split[key], whole[key], rtol=0, atol=0)
