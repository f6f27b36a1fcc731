"""Feature networks that judge generated images: the bundled domain classifier of a data set (penultimate
features and class probabilities), or Inception-v3 from torch-fidelity with weights the user supplies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.catalog import WEIGHTS_NAME, resolve
from pixelsmith.errors import PixelsmithError, UsageError

# the bundled classifier that judges each data set's images
DOMAIN_CLASSIFIERS = {"mnist": "classifier-mnist", "fashion-mnist": "classifier-fashion"}


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, so a result names exactly the feature network that produced it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ClassifierFeatures:
    """A domain classifier as a feature network: ``embed`` gives (features, class probabilities)."""

    kind = "classifier"

    def __init__(self, name_or_dir: str | Path) -> None:
        from pixelsmith.pipelines.store import load_model

        self.net = load_model(name_or_dir)
        if self.net.config.get("family") != "classify":
            raise UsageError(f"model={name_or_dir} is a '{self.net.config.get('family')}' model; the feature network "
                             f"must be a classifier (family classify)")
        folder = resolve(name_or_dir)
        self.name = str(name_or_dir)
        self.checksum = sha256(folder / WEIGHTS_NAME)
        self.channels = self.net.config["args"].get("channels", 1)

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (N, D), probabilities (N, classes)) of images (N, C, H, W) in [0, 1]."""
        if images.shape[1] != self.channels:
            if self.channels == 1:  # colour samples judged by a gray classifier: ITU-R 601 luma
                images = (images * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
            else:
                images = images.expand(-1, self.channels, -1, -1)
        features, probs = [], []
        for chunk in images.split(batch_size):
            f = self.net.features(chunk.float())
            features.append(f)
            probs.append(F.softmax(self.net.head(f), 1))
        return torch.cat(features), torch.cat(probs)

    def protocol(self) -> dict:
        return {"feature_network": self.name, "kind": self.kind, "sha256": self.checksum}


class InceptionFeatures:
    """Inception-v3 pool features (2048) as FID defines them, through torch-fidelity, from a weights file the
    user has (pt_inception-2015-12-05); nothing is downloaded."""

    kind = "inception"

    def __init__(self, weights: str | Path | None) -> None:
        if not weights:
            raise UsageError("Inception features need their weights: pass --inception-weights FILE (the "
                             "pt_inception-2015-12-05 file of torch-fidelity); pixelsmith downloads nothing")
        if not Path(weights).is_file():
            raise UsageError(f"inception_weights={weights}: no such file")
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError:
            raise PixelsmithError("Inception features need torch-fidelity: pip install torch-fidelity") from None
        self.net: nn.Module = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                                          feature_extractor_weights_path=str(weights)).eval()
        self.name, self.checksum = str(weights), sha256(weights)

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch_size: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
        features, probs = [], []
        for chunk in images.split(batch_size):
            x = (chunk.expand(-1, 3, -1, -1) * 255).round().to(torch.uint8)
            f, logits = self.net(x)
            features.append(f.double())
            probs.append(F.softmax(logits.double(), 1))
        return torch.cat(features), torch.cat(probs)

    def protocol(self) -> dict:
        return {"feature_network": "inception-v3-compat (torch-fidelity)", "kind": self.kind,
                "weights": self.name, "sha256": self.checksum}
