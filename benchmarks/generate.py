"""Sample quality of every bundled generator, one table per data set, with the floor from the same run.

    python benchmarks/generate.py [-n 10000] [--data-root ../shared/data] [--datasets mnist fashion-mnist]
                                  [--models NAME ...] [-k 100]

For each data set: the floor (N real training images against N test images), then each bundled generator
trained on it (N samples, seed 0, default sampling options) against the same N test images, under the bundled
domain classifier's features: FID, KID (unbiased, mean and standard deviation over 100 subsets of 1000),
precision/recall and density/coverage (k = 5), class spread (most / least frequent predicted class), mean
confidence, samples per second on this CPU (1 thread per process is what the machine gives each job); the
importance-weighted test NLL with k samples for models with a likelihood (binarised once with seed 0), and
for conditional models the share of samples of class K classified as K, for each K. Writes
benchmarks/results/generate.{json,md} and a 64-sample grid of each model to docs/images/.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from pixelsmith.catalog import CONFIG_NAME, WEIGHTS_DIR, list_bundled, read_config
from pixelsmith.io import write_image
from pixelsmith.pipelines.evaluate import evaluate, evaluate_likelihood
from pixelsmith.pipelines.generate import generate, make_grid
from pixelsmith.pipelines.store import load_model

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = [("fid", "FID", ".4g"), ("kid", "KID", ".4g"), ("kid_std", "KID std", ".2g"), ("precision", "precision", ".3f"),
           ("recall", "recall", ".3f"), ("density", "density", ".3f"), ("coverage", "coverage", ".3f"),
           ("class_spread", "spread", ".2f"), ("confidence", "confidence", ".3f")]


def generators_of(dataset: str) -> list[str]:
    """The bundled generative models trained on ``dataset`` (from the recipe in their metadata)."""
    out = []
    for name in list_bundled():
        config = read_config(name)
        if config["family"] == "generate" and config.get("metadata", {}).get("recipe", {}).get("data") == dataset:
            out.append(name)
    return out


def processor() -> str:
    try:
        return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def row_text(row: dict, extra: str = "") -> str:
    cells = [f"{row[key]:{fmt}}" for key, _, fmt in COLUMNS]
    rate = f"{row['samples_per_s']:.0f}" if "samples_per_s" in row else "-"
    return f"| {row['name']} | " + " | ".join(cells) + f" | {row.get('fid', 0) / row['floor_fid']:.1f}x | " \
           f"{row.get('nll', '-')} | {rate} | {extra} |"


def record(row: dict, reference: str, n: int) -> None:
    """Keep a bundled model's measured figures in its config.json."""
    path = WEIGHTS_DIR / row["name"] / CONFIG_NAME
    config = json.loads(path.read_text())
    keys = ("fid", "floor_fid", "kid", "precision", "recall", "density", "coverage", "class_spread", "confidence")
    config["metadata"]["evaluation"] = {"reference": reference, "n": n, **{k: round(row[k], 6) for k in keys}}
    if "likelihood" in row:
        config["metadata"]["evaluation"]["nll_nats"] = round(row["likelihood"]["model"]["nll_nats"], 3)
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("-k", type=int, default=100, help="importance samples per test image for the NLL")
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--models", nargs="+", help="only these bundled models (default: every generator)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "generate"))
    parser.add_argument("--record", action="store_true", help="write each bundled model's figures into the "
                        "metadata of its config.json (what `pixelsmith models` lists)")
    parser.add_argument("--grids", default=str(ROOT / "docs" / "images"))
    parser.add_argument("--per-class", type=int, help="samples per class for 'classified as asked' (default "
                        "max(100, N / 10))")
    args = parser.parse_args()
    results, lines = {}, []
    for dataset in args.datasets:
        root = Path(args.data_root) / dataset
        models = [m for m in generators_of(dataset) if not args.models or m in args.models]
        if not models:
            continue
        first = evaluate(models[0], n=args.n, reference=f"{dataset}-test", data_root=root, per_class=args.per_class)
        floor = dict(first["floor"])
        rows = [floor]
        for name in models:
            start = time.perf_counter()
            result = first if name == models[0] else evaluate(name, n=args.n, reference=f"{dataset}-test",
                                                                data_root=root, floor=False, per_class=args.per_class)
            row = dict(result["model"], name=name)
            if hasattr(load_model(name), "log_likelihood"):
                ll = evaluate_likelihood(name, f"{dataset}-test", root, n=args.n, k=args.k)
                row["nll"] = f"{ll['model']['nll_nats']:.2f} ± {ll['model']['nll_std_error']:.2f}"
                row["likelihood"] = ll
            classes = getattr(load_model(name), "num_classes", 0)
            if classes:  # a row per class: class K in row K
                grid = torch.cat([generate(name, classes, seed=k, label=k) for k in range(classes)])
                grid = make_grid(grid, nrow=classes)
            else:
                grid = make_grid(generate(name, 64, seed=0), nrow=8)
            Path(args.grids).mkdir(parents=True, exist_ok=True)
            write_image(Path(args.grids) / f"{name}.png", grid)
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            print(f"{dataset} {name}: FID {row['fid']:.4g} (floor {floor['fid']:.4g}), spread {row['class_spread']:.2f}",
                  file=sys.stderr, flush=True)
        for row in rows:
            row["floor_fid"] = floor["fid"]
        results[dataset] = {"protocol": first["protocol"], "rows": rows}
        if args.record:
            for row in rows[1:]:
                record(row, f"{dataset}-test", args.n)
        lines += [f"## {dataset} ({args.n} samples against {first['protocol']['n_reference']} test images)", "",
                  f"Features: `{first['protocol']['feature_network']}` (sha256 `{first['protocol']['sha256']}`).", "",
                  "| images | " + " | ".join(title for _, title, _ in COLUMNS) + " | FID / floor | NLL (nats) | "
                  "samples/s | classified as asked |", "|---" * (len(COLUMNS) + 5) + "|"]
        for row in rows:
            asked = " ".join(f"{a:.3f}" for a in row.get("per_class_accuracy", [])) or "-"
            lines.append(row_text(row, asked))
        lines.append("")
    header = [f"# Bundled generators ({args.n} samples, seed 0)", "",
              f"Run on {processor()}, torch {torch.__version__}, "
              f"{torch.get_num_threads()} thread(s). Command: `python benchmarks/generate.py -n {args.n} -k {args.k}"
              + (f" --models {' '.join(args.models)}" if args.models else "")
              + (f" --per-class {args.per_class}" if args.per_class else "") + "`. "
              f"The floor is real training images against the test images, with the same N. NLL: the "
              f"importance-weighted bound with k = {args.k} (an upper bound on the NLL) for a VAE, the exact NLL for "
              f"an autoregressive model (PixelCNN), on the test images binarised once with seed 0; ± is its "
              f"standard error over the images.", ""]
    text = "\n".join(header + lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
