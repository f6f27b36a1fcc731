"""Quality during training: every ``eval_every`` steps the exported generator draws ``eval_samples`` images,
which are scored against as many training images (FID, KID, class spread and confidence under the feature
network), so the log shows the model improve and the best checkpoint can be kept. The training images are
the reference here; final figures are measured against the held-out split by ``pixelsmith evaluate``."""

from __future__ import annotations

import torch
import torch.nn as nn

from pixelsmith.config import TrainConfig
from pixelsmith.metrics.features import DOMAIN_CLASSIFIERS, ClassifierFeatures


class TrainingEvaluator:
    """Scores a generator against a fixed, seeded subset of the training set."""

    def __init__(self, cfg: TrainConfig, dataset) -> None:
        self.cfg = cfg
        self.judge = ClassifierFeatures(cfg.eval_classifier or DOMAIN_CLASSIFIERS[cfg.data])
        keys = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(cfg.seed + 17))[:cfg.eval_samples]
        self.real = self.judge.embed(torch.stack([torch.as_tensor(dataset[int(k)][0]) for k in keys]))

    @classmethod
    def wanted(cls, cfg: TrainConfig) -> bool:
        """True when the recipe asks for evaluations and a feature network for its data is known."""
        return cfg.eval_every > 0 and bool(cfg.eval_classifier or cfg.data in DOMAIN_CLASSIFIERS)

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> dict[str, float]:
        from pixelsmith.pipelines.evaluate import scores
        from pixelsmith.pipelines.generate import generate

        was_training = model.training
        model.eval()
        images = generate(model, self.cfg.eval_samples, seed=self.cfg.seed + 1)
        model.train(was_training)
        s = scores(self.real, self.judge.embed(images.cpu()), seed=self.cfg.seed, prdc=False)
        return {"fid": s["fid"], "kid": s["kid"], "class_spread": s["class_spread"],
                "confidence": s["confidence"]}
