"""Evaluation of generators (pixelsmith.pipelines.evaluate and `pixelsmith evaluate`): the floor beside every
score, the protocol written down, a folder of samples judged like a model, conditional models asked per class,
likelihood models scored in nats and bits per dimension, and clear refusals."""

import json

import pytest
import torch
from conftest import gen, run_main
from PIL import Image

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.hub import save_pretrained
from pixelsmith.metrics.features import sha256
from pixelsmith.pipelines.evaluate import evaluate, evaluate_likelihood, parse_reference, real_images
from pixelsmith.registry import create_model


@pytest.fixture
def judge(tmp_path):
    """A small untrained classifier saved as a model folder: a fixed, deterministic feature network."""
    torch.manual_seed(0)
    return save_pretrained(create_model("classifier", width=4, features=16).eval(), tmp_path / "judge")


@pytest.fixture
def tiny_generator(tmp_path):
    torch.manual_seed(0)
    return save_pretrained(create_model("dcgan", width=8, latent_dim=16).eval(), tmp_path / "gen")


def test_references_name_a_data_set_and_a_split():
    assert parse_reference("mnist-test") == ("mnist", "test")
    assert parse_reference("fashion-mnist-train") == ("fashion-mnist", "train")
    assert parse_reference("fashion-test") == ("fashion-mnist", "test")
    for bad in ("mnist", "mnist-val", "cifar10-test"):
        with pytest.raises(UsageError, match="is not known; accepted: mnist-train, mnist-test"):
            parse_reference(bad)


def test_a_model_is_scored_beside_the_floor_with_its_protocol(tiny_mnist, judge, tiny_generator):
    result = evaluate(tiny_generator, n=12, reference="mnist-test", data_root=tiny_mnist, classifier=str(judge))
    p = result["protocol"]
    assert p["n"] == 12 and p["n_reference"] == 12 and p["reference"] == "mnist-test" and p["seed"] == 0
    assert p["sha256"] == sha256(judge / "model.safetensors") and p["kind"] == "classifier"
    for row in (result["model"], result["floor"]):
        assert {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "class_spread",
                "confidence"} <= set(row)
        assert sum(row["class_histogram"]) == 12 and 0 < row["confidence"] <= 1
    assert result["floor"]["name"] == "mnist-train (real)"
    assert result["model"]["samples_per_s"] > 0
    # an untrained generator's noise is further from digits than real training images are
    assert result["model"]["fid"] > result["floor"]["fid"]


def test_the_same_seed_gives_the_same_figures(tiny_mnist, judge, tiny_generator):
    a = evaluate(tiny_generator, n=12, data_root=tiny_mnist, classifier=str(judge), floor=False)
    b = evaluate(tiny_generator, n=12, data_root=tiny_mnist, classifier=str(judge), floor=False)
    c = evaluate(tiny_generator, n=12, data_root=tiny_mnist, classifier=str(judge), floor=False, seed=5)
    assert a["model"] == b["model"] | {"samples_per_s": a["model"]["samples_per_s"]}
    assert a["model"]["fid"] != c["model"]["fid"]


def test_a_folder_of_the_reference_images_themselves_scores_zero(tmp_path, tiny_mnist, judge):
    images = real_images("mnist", "test", tiny_mnist, 12, seed=0)
    folder = tmp_path / "samples"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray((image[0] * 255).round().byte().numpy()).save(folder / f"{i}.png")
    result = evaluate(samples=folder, n=12, data_root=tiny_mnist, classifier=str(judge))
    model = result["model"]
    assert model["fid"] == pytest.approx(0, abs=1e-6) and model["precision"] == model["recall"] == 1.0
    assert model["coverage"] == 1.0 and result["protocol"]["n_samples"] == 12


def test_a_conditional_model_is_asked_for_each_class(tiny_mnist, judge):
    torch.manual_seed(0)
    model = create_model("cgan", width=4, latent_dim=8, num_classes=3).eval()
    result = evaluate(model, n=12, data_root=tiny_mnist, classifier=str(judge), floor=False)
    accuracy = result["model"]["per_class_accuracy"]
    assert len(accuracy) == 3 and all(0 <= a <= 1 for a in accuracy)


def test_bad_requests_are_refused(tiny_mnist, judge, tiny_generator, tmp_path):
    with pytest.raises(UsageError, match="give model=NAME or samples=FOLDER"):
        evaluate(None, data_root=tiny_mnist, classifier=str(judge))
    with pytest.raises(UsageError, match="n=5: an evaluation needs at least 10"):
        evaluate(tiny_generator, n=5, data_root=tiny_mnist, classifier=str(judge))
    with pytest.raises(UsageError, match="must be a classifier"):
        evaluate(tiny_generator, n=12, data_root=tiny_mnist, classifier=str(tiny_generator))
    with pytest.raises(PixelsmithError, match="not found; point data_root"):
        evaluate(tiny_generator, n=12, data_root=tmp_path, classifier=str(judge))
    with pytest.raises(UsageError, match="Inception features need their weights"):
        evaluate(tiny_generator, n=12, data_root=tiny_mnist, features="inception")
    with pytest.raises(UsageError, match="no such file"):
        evaluate(tiny_generator, n=12, data_root=tiny_mnist, features="inception", inception_weights=tmp_path / "x")


def test_likelihood_is_reported_in_nats_and_bits_per_dimension(tiny_mnist):
    torch.manual_seed(0)
    vae = create_model("vae", latent_dim=4, width=4, hidden=16).eval()
    result = evaluate_likelihood(vae, data_root=tiny_mnist, n=16, k=20)
    m = result["model"]
    assert result["protocol"]["n"] == 16 and result["protocol"]["k"] == 20
    assert m["nll_nats"] <= m["negative_elbo_nats"]  # the importance-weighted bound is the tighter one
    assert m["nll_bits_per_dim"] == pytest.approx(m["nll_nats"] / (784 * torch.log(torch.tensor(2.0)).item()))
    with pytest.raises(UsageError, match="has no likelihood"):
        evaluate_likelihood(create_model("dcgan", width=8, latent_dim=8), data_root=tiny_mnist, n=4, k=2)


@pytest.mark.cli
def test_the_command_prints_the_table_and_writes_json(capsys, tmp_path, tiny_mnist, judge, tiny_generator):
    out_json = tmp_path / "result.json"
    code, out, err = run_main(capsys, "evaluate", "generate", "--model", tiny_generator, "-n", 12, "--data-root",
                              tiny_mnist, "--classifier", judge, "--json", out_json)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["images", "FID", "KID"] and lines[1].startswith("mnist-train (real)")
    assert "protocol: 12 samples against 12 images of mnist-test" in out
    saved = json.loads(out_json.read_text())
    assert saved["protocol"]["sha256"] == sha256(judge / "model.safetensors")
    assert f"{saved['model']['fid']:.4g}" in lines[2]
    code, out, err = run_main(capsys, "evaluate", "likelihood", "--model", tiny_generator, "--data-root", tiny_mnist)
    assert code == 2 and "has no likelihood" in err
    code, out, err = run_main(capsys, "evaluate", "generate", "--data-root", tiny_mnist)
    assert code == 2 and "give --model NAME or --samples FOLDER" in err
