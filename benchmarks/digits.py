"""How recognisable and how varied are generated digits? A quick proxy until FID/KID on a bundled
domain classifier arrives: a small CNN is trained here on MNIST train (2 epochs), then scores
N generated samples and N real MNIST test digits (the reference, in the same run).

    python benchmarks/digits.py [--model dcgan-mnist] [--data ../shared/data/mnist] [-n 2000]

Columns: confident = share of images whose top class probability is > 0.9; classes = digits that
appear among the predictions; entropy = entropy (bits) of the predicted-class histogram (log2 10 =
3.32 is perfectly balanced). Writes benchmarks/results/digits.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from pixelsmith.data.idx import IDXDataset
from pixelsmith.pipelines.generate import generate


def classifier() -> nn.Module:
    """A LeNet-style CNN, enough for ~99% on MNIST."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def scores(net: nn.Module, images: torch.Tensor) -> dict[str, float]:
    with torch.no_grad():
        probs = F.softmax(net(images), 1)
    top, label = probs.max(1)
    hist = torch.bincount(label, minlength=10).float() / len(label)
    entropy = -(hist[hist > 0] * hist[hist > 0].log2()).sum().item()
    return {"confident": (top > 0.9).float().mean().item(), "classes": int((hist > 0).sum()), "entropy": entropy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan-mnist")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"))
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "digits"))
    args = parser.parse_args()
    torch.manual_seed(0)
    train, test = IDXDataset(args.data, train=True), IDXDataset(args.data, train=False)
    x, y = train.images.float() / 255, train.labels
    net = classifier()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for epoch in range(2):
        for idx in torch.randperm(len(x)).split(128):
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    tx, ty = test.images.float() / 255, test.labels
    with torch.no_grad():
        accuracy = (net(tx).argmax(1) == ty).float().mean().item()
    rows = {"MNIST test (real)": scores(net, tx[: args.n]), args.model: scores(net, generate(args.model, args.n, seed=0))}
    table = "| images | confident (>0.9) | classes | entropy (bits) |\n|---|---|---|---|\n" + "".join(
        f"| {k} | {v['confident']:.3f} | {v['classes']} | {v['entropy']:.3f} |\n" for k, v in rows.items())
    print(f"classifier accuracy on MNIST test: {accuracy:.4f}\n\n{table}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"classifier_test_accuracy": accuracy, "n": args.n, "rows": rows},
                                                   indent=2) + "\n")
    out.with_suffix(".md").write_text(f"# Generated digits ({args.n} samples, seed 0)\n\n"
                                      f"Classifier accuracy on MNIST test: {accuracy:.4f}\n\n{table}")


if __name__ == "__main__":
    main()
