"""Next-frame prediction on seeded Moving-MNIST test sequences: the bundled ConvLSTM against two trivial
predictors in the same run.

    python benchmarks/predict.py [-n 1000] [--data-root ../shared/data/mnist] [--models convlstm-movingmnist]

Sequences: 2 test digits bouncing in 64x64 frames, 10 in and 10 out, made by pixelsmith.data.MovingMNIST from the
MNIST test digits with its evaluation seed (the model trained on the training digits). Per future step and on
average: MSE per frame as OpenSTL reports it (squared error summed over the 64x64 frame, values in [0, 1]), MAE
per frame (absolute error summed likewise), SSIM and PSNR (scikit-image, data range 1, averaged over frames).
Baselines: the last input frame repeated; an all-black frame. Frames per second of each model on this CPU.
Writes benchmarks/results/predict.{json,md}; the strip of the first sequences to docs/images/.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pixelsmith.catalog import CONFIG_NAME, WEIGHTS_DIR
from pixelsmith.data.clips import MovingMNIST
from pixelsmith.io import write_image
from pixelsmith.pipelines.predict import load_predictor, strip

ROOT = Path(__file__).resolve().parents[1]


def scores(prediction: torch.Tensor, truth: torch.Tensor) -> dict:
    """Per future step: MSE and MAE per frame (summed over pixels), SSIM, PSNR; and their means."""
    p, t = prediction.float().clamp(0, 1).numpy()[:, :, 0], truth.float().numpy()[:, :, 0]
    mse = ((p - t) ** 2).sum((2, 3)).mean(0)
    mae = np.abs(p - t).sum((2, 3)).mean(0)
    ssim = np.array([[structural_similarity(t[i, k], p[i, k], data_range=1.0) for i in range(len(p))]
                     for k in range(p.shape[1])]).mean(1)
    psnr = np.array([[peak_signal_noise_ratio(t[i, k], p[i, k], data_range=1.0) if np.any(p[i, k] != t[i, k])
                      else 100.0 for i in range(len(p))] for k in range(p.shape[1])]).mean(1)
    return {"mse": float(mse.mean()), "mae": float(mae.mean()), "ssim": float(ssim.mean()), "psnr": float(psnr.mean()),
            "mse_per_step": mse.tolist(), "ssim_per_step": ssim.tolist(), "psnr_per_step": psnr.tolist()}


def record(row: dict, best_trivial: float, n: int) -> None:
    """Keep a bundled predictor's measured figures in its config.json."""
    path = WEIGHTS_DIR / row["name"] / CONFIG_NAME
    config = json.loads(path.read_text())
    config["metadata"]["evaluation"] = {"reference": "moving-mnist-test", "n": n, "mse_ratio": round(row["mse"] / best_trivial, 4),
                                        **{k: round(row[k], 4) for k in ("mse", "mae", "ssim", "psnr")}}
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--models", nargs="+", default=["convlstm-movingmnist"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "predict"))
    parser.add_argument("--strips", default=str(ROOT / "docs" / "images"))
    parser.add_argument("--record", action="store_true", help="write each bundled model's figures into the "
                        "config.json it ships with (what `pixelsmith models` lists)")
    args = parser.parse_args()
    data = MovingMNIST(args.data_root, train=False, length=args.n)
    clips = torch.stack([data[k][0] for k in range(args.n)])
    inputs, truth = clips[:, :10], clips[:, 10:]
    rows = [{"name": "last input frame, repeated", **scores(inputs[:, -1:].expand_as(truth), truth)},
            {"name": "all-black frame", **scores(torch.zeros_like(truth), truth)}]
    for name in args.models:
        model = load_predictor(name)
        start = time.perf_counter()
        prediction = model.predict(inputs, truth.shape[1])
        seconds = time.perf_counter() - start
        rows.append({"name": name, **scores(prediction, truth), "frames_per_s": truth.shape[0] * truth.shape[1] / seconds})
        Path(args.strips).mkdir(parents=True, exist_ok=True)
        picture = strip([r for k in range(3) for r in (inputs[k], truth[k], prediction[k])])
        write_image(Path(args.strips) / f"{name}.png", picture)
    best = min(r["mse"] for r in rows[:2])
    if args.record:
        for r in rows[2:]:
            record(r, best, args.n)
    lines = [f"# Next-frame prediction ({args.n} Moving-MNIST test sequences, 10 frames in, 10 out)", "",
             f"Command: `python benchmarks/predict.py -n {args.n}`; torch {torch.__version__}, "
             f"{torch.get_num_threads()} thread(s). MSE and MAE per frame (summed over the 64x64 frame, OpenSTL's "
             f"convention); SSIM and PSNR averaged over frames. Ratio: MSE against the better trivial predictor of "
             f"this run.", "",
             "| predictor | MSE | MAE | SSIM | PSNR (dB) | MSE / best trivial | frames/s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        rate = f"{r['frames_per_s']:.0f}" if "frames_per_s" in r else "-"
        lines.append(f"| {r['name']} | {r['mse']:.1f} | {r['mae']:.1f} | {r['ssim']:.3f} | {r['psnr']:.2f} | "
                     f"{r['mse'] / best:.2f} | {rate} |")
    lines += ["", "MSE per future step (1 to 10):", "", "| predictor | " + " | ".join(str(k + 1) for k in range(10)) + " |",
              "|---" * 11 + "|"]
    for r in rows:
        lines.append(f"| {r['name']} | " + " | ".join(f"{v:.0f}" for v in r["mse_per_step"]) + " |")
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"n": args.n, "rows": rows}, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
