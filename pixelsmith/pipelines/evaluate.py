"""Evaluation of generators against real images, with the protocol written beside every figure.

Samples and real images are embedded by a feature network (the data set's bundled domain classifier, or
Inception with the user's weights); the scores are the Fréchet distance, KID, precision/recall,
density/coverage, and the class histogram and confidence from the classifier's head. The floor, the same
figures for real training images against the reference split with the same N, is always computed too: no
model can be expected to score better."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from pixelsmith.errors import PixelsmithError, UsageError
from pixelsmith.metrics.features import DOMAIN_CLASSIFIERS, ClassifierFeatures, InceptionFeatures
from pixelsmith.metrics.generative import frechet_distance, kernel_distance, precision_recall_density_coverage
from pixelsmith.progress import Progress, report

SPLITS = ("train", "test")
ALIASES = {"fashion": "fashion-mnist"}


def parse_reference(reference: str) -> tuple[str, str]:
    """(data set, split) of a reference such as ``mnist-test`` or ``fashion-mnist-train``."""
    name, _, split = reference.rpartition("-")
    name = ALIASES.get(name, name)
    if name not in DOMAIN_CLASSIFIERS or split not in SPLITS:
        accepted = ", ".join(f"{d}-{s}" for d in DOMAIN_CLASSIFIERS for s in SPLITS)
        raise UsageError(f"reference={reference} is not known; accepted: {accepted}")
    return name, split


def default_data_root(dataset: str) -> Path:
    """Where the recipes look for a data set unless told otherwise."""
    return Path("..") / "shared" / "data" / dataset


def real_images(dataset: str, split: str, data_root: str | Path | None, n: int, seed: int) -> torch.Tensor:
    """``n`` images of a split (all of it when it is smaller), a seeded random subset."""
    from pixelsmith.data.idx import IDXDataset

    data = IDXDataset(data_root or default_data_root(dataset), name=dataset, train=split == "train")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return data.images[order].float() / 255


def feature_network(dataset: str | None, features: str = "classifier", classifier: str | None = None,
                    inception_weights: str | None = None):
    """The feature network that judges images of ``dataset``."""
    if features == "inception":
        return InceptionFeatures(inception_weights)
    if features != "classifier":
        raise UsageError(f"features={features} is not known; accepted: classifier, inception")
    return ClassifierFeatures(classifier or DOMAIN_CLASSIFIERS[dataset])


def scores(real: tuple[torch.Tensor, torch.Tensor], fake: tuple[torch.Tensor, torch.Tensor], seed: int = 0,
           prdc: bool = True) -> dict[str, Any]:
    """Every figure of ``fake`` (features, probabilities) against ``real``."""
    (real_f, _), (fake_f, fake_p) = real, fake
    kid, kid_std = kernel_distance(real_f, fake_f, seed=seed)
    counts = torch.bincount(fake_p.argmax(1), minlength=fake_p.shape[1])
    out = {"fid": frechet_distance(real_f, fake_f), "kid": kid, "kid_std": kid_std}
    if prdc:
        out |= precision_recall_density_coverage(real_f, fake_f)
    return out | {"class_spread": float(counts.max() / counts.min()) if counts.min() > 0 else float("inf"),
                  "confidence": float(fake_p.max(1).values.mean()), "class_histogram": counts.tolist()}


def _sample(model: nn.Module, n: int, seed: int, progress: Progress, options: dict) -> tuple[torch.Tensor, float]:
    from pixelsmith.pipelines.generate import generate

    start = time.perf_counter()
    images = generate(model, n, seed=seed, progress=progress, **options)
    return images, n / (time.perf_counter() - start)


def evaluate(model: nn.Module | str | Path | None = None, n: int = 10_000, reference: str = "mnist-test",
             data_root: str | Path | None = None, seed: int = 0, samples: str | Path | None = None,
             features: str = "classifier", classifier: str | None = None, inception_weights: str | None = None,
             floor: bool = True, per_class: int | None = None, progress: Progress = None, **options
             ) -> dict[str, Any]:
    """Scores of ``n`` samples of ``model`` (or of the images in the folder ``samples``) against ``n`` images
    of ``reference``, the floor beside them, and the protocol; a conditional model is also asked for each class
    in turn, ``per_class`` samples each (default max(100, n / 10); 0 skips it), and ``per_class_accuracy`` says
    how often the classifier agrees."""
    if (model is None) == (samples is None):
        raise UsageError("give model=NAME or samples=FOLDER (one of them)")
    if n < 10:
        raise UsageError(f"n={n}: an evaluation needs at least 10 images (10,000 is the standard)")
    dataset, split = parse_reference(reference)
    judge = feature_network(dataset, features, classifier, inception_weights)
    report(progress, "reference", 0, 1)
    real = judge.embed(real_images(dataset, split, data_root, n, seed))
    n_real = len(real[0])
    result: dict[str, Any] = {"protocol": {"reference": reference, "data_root": str(data_root or default_data_root(dataset)),
                                           "n": n, "n_reference": n_real, "seed": seed, **judge.protocol(),
                                           "kid": "unbiased MMD^2, cubic polynomial kernel, 100 subsets of "
                                                  f"{min(1000, n, n_real)}; kid_std is their standard deviation",
                                           "prdc": "k = 5 nearest neighbours"}}
    if samples is not None:
        from pixelsmith.data.folder import ImageFolder

        folder = ImageFolder(samples, size=28, channels=judge_channels(judge))
        images = torch.stack([folder[i][0] for i in range(min(n, len(folder)))])
        result["protocol"] |= {"samples": str(samples), "n_samples": len(images), "resized_to": 28}
        result["model"] = {"name": str(samples)} | scores(real, judge.embed(images), seed)
    else:
        if not isinstance(model, nn.Module):
            from pixelsmith.pipelines.generate import load_generator

            name, model = str(model), load_generator(model)
        else:
            name = model.config.get("model", "model") if hasattr(model, "config") else "model"
        images, rate = _sample(model, n, seed + 1, progress, options)
        result["protocol"]["sampler"] = {"seed": seed + 1, **options}
        result["model"] = {"name": name} | scores(real, judge.embed(images), seed) | {"samples_per_s": rate}
        per_class = max(100, n // 10) if per_class is None else per_class
        if getattr(model, "num_classes", 0) and "label" not in options and per_class > 0:
            result["model"]["per_class_accuracy"] = per_class_accuracy(model, judge, per_class, seed + 2, options)
            result["protocol"]["per_class"] = per_class
    if floor:
        other = "test" if split == "train" else "train"
        train = real_images(dataset, other, data_root, n_real, seed + 3)
        result["floor"] = {"name": f"{dataset}-{other} (real)"} | scores(real, judge.embed(train), seed)
    return result


def judge_channels(judge) -> int:
    return getattr(judge, "channels", 3)


def per_class_accuracy(model: nn.Module, judge, n: int, seed: int, options: dict | None = None) -> list[float]:
    """For each class K, the share of ``n`` samples drawn with label=K (and the other sampling ``options``) that
    the classifier calls K."""
    from pixelsmith.pipelines.generate import generate

    accuracy = []
    for k in range(model.num_classes):
        _, probs = judge.embed(generate(model, n, seed=seed + k, label=k, **(options or {})))
        accuracy.append(float((probs.argmax(1) == k).float().mean()))
    return accuracy


def binarize(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Stochastic binarisation (each pixel is 1 with its intensity as probability), seeded."""
    return torch.bernoulli(images, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def evaluate_likelihood(model: nn.Module | str | Path, reference: str = "mnist-test",
                        data_root: str | Path | None = None, n: int = 10_000, k: int = 1000, seed: int = 0,
                        batch_size: int = 50, progress: Progress = None) -> dict[str, Any]:
    """Test NLL of a likelihood model in nats per image and bits per dimension, on ``n`` images of ``reference``
    binarised once with ``seed``: exact for an autoregressive model (``exact_likelihood``), else the ELBO and the
    importance-weighted bound with ``k`` samples (Burda et al. 2016)."""
    if not isinstance(model, nn.Module):
        from pixelsmith.pipelines.store import load_model

        name, model = str(model), load_model(model)
    else:
        name = model.config.get("model", "model")
    if not hasattr(model, "log_likelihood"):
        raise UsageError(f"model={name} has no likelihood; evaluate likelihood takes a VAE (or another model "
                         f"with log_likelihood)")
    if k < 1 or n < 1:
        raise UsageError(f"k={k} and n={n} must be at least 1")
    dataset, split = parse_reference(reference)
    images = real_images(dataset, split, data_root, n, seed)
    x = binarize(images, seed) if model.likelihood == "bernoulli" else images
    generator = torch.Generator().manual_seed(seed + 1)
    elbo, ll = [], []
    for done, chunk in enumerate(x.split(batch_size)):
        e, l = model.log_likelihood(chunk, k=k, generator=generator)
        elbo.append(e)
        ll.append(l)
        report(progress, "images", min((done + 1) * batch_size, len(x)), len(x))
    elbo, ll = torch.cat(elbo), torch.cat(ll)
    dims = x[0].numel()
    nll, nelbo = float(-ll.mean()), float(-elbo.mean())
    exact = getattr(model, "exact_likelihood", False)
    return {"protocol": {"reference": reference, "n": len(x), "k": None if exact else k, "seed": seed,
                         "estimator": "exact" if exact else f"importance-weighted bound, k={k}",
                         "data": "binarised once with the seed (each pixel 1 with probability its intensity)"
                         if model.likelihood == "bernoulli" else "8-bit pixels", "likelihood": model.likelihood},
            "model": {"name": name, "nll_nats": nll, "nll_std_error": float(ll.std() / len(ll) ** 0.5),
                      "negative_elbo_nats": nelbo, "nll_bits_per_dim": nll / dims / float(torch.log(torch.tensor(2.0))),
                      "negative_elbo_bits_per_dim": nelbo / dims / float(torch.log(torch.tensor(2.0)))}}
