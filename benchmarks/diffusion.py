"""A bundled diffusion model against itself and the other methods: sample quality against sampling steps for each
sampler, classifier-free guidance against class accuracy and FID, sampling speed, and RePaint inpainting beside
the learned inpainter and Telea.

    python benchmarks/diffusion.py [--model ddpm-mnist] [-n 1000] [--digits 100] [--data-root ../shared/data]
                                   [--parts sweep,guidance,inpaint] [--out PATH]

Sample quality is measured as in benchmarks/generate.py (the bundled domain classifier's features, N samples
against N test images, seed 0) with the floor of the same run and the same N; the rows use fewer samples than
generate.py's 10,000 to keep the run short, so compare them with each other and with their own floor.
Guidance rows draw N/10 samples of each class (class K in turn) and report how many the classifier calls K.
Inpainting: ``--digits`` test digits (seeded), each with a box (10 to 14 pixels a side inside the central 20x20)
and with brush strokes; PSNR is over the missing pixels only (per image, then averaged), accuracy is the
classifier's on the filled digits. Writes benchmarks/results/diffusion.{json,md} (or --out).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pixelsmith.degradations import stroke_mask
from pixelsmith.metrics.features import ClassifierFeatures
from pixelsmith.pipelines.evaluate import evaluate, real_images, scores
from pixelsmith.pipelines.generate import generate
from pixelsmith.io import write_image
from pixelsmith.pipelines.store import load_model

ROOT = Path(__file__).resolve().parents[1]
SWEEP = [("ddim", 10), ("ddim", 25), ("ddim", 50), ("dpm", 10), ("dpm", 25), ("dpm", 50), ("ddpm", 50),
         ("ddpm", 100)]
GUIDANCE = [0.0, 0.5, 1.0, 2.0, 4.0]
PARTS = ("sweep", "guidance", "inpaint")


def quality_row(label: str, result: dict) -> str:
    m = result
    return (f"| {label} | {m['fid']:.4g} | {m['kid']:.4g} | {m['precision']:.3f} | {m['recall']:.3f} | "
            f"{m['class_spread']:.2f} | {m['samples_per_s']:.0f} |" if "samples_per_s" in m else
            f"{m['class_spread']:.2f} | - |")


def steps_sweep(model: str, n: int, root: Path) -> tuple[dict, list[dict]]:
    """The floor, then every (sampler, steps) of SWEEP, every class equally often, unguided (the default for a
    draw over all classes)."""
    rows, floor = [], None
    for sampler, steps in SWEEP:
        result = evaluate(model, n=n, reference=f"{root.name}-test", data_root=root, floor=floor is None,
                          per_class=0, sampler=sampler, steps=steps)
        floor = floor or result["floor"]
        rows.append(dict(result["model"], sampler=sampler, steps=steps))
        print(f"{sampler} {steps}: FID {rows[-1]['fid']:.4g} (floor {floor['fid']:.4g})", file=sys.stderr, flush=True)
    return floor, rows


def guidance_sweep(model: str, n: int, root: Path, judge: ClassifierFeatures) -> list[dict]:
    """For each guidance weight: N/10 samples of each class at 25 DPM-Solver++ steps."""
    net = load_model(model)
    real = judge.embed(real_images(root.name, "test", root, n, 0))
    rows = []
    for w in GUIDANCE:
        start = time.perf_counter()
        images = torch.cat([generate(net, n // net.num_classes, seed=1 + k, label=k, guidance=w)
                            for k in range(net.num_classes)])
        rate = len(images) / (time.perf_counter() - start)
        feats, probs = judge.embed(images)
        asked = torch.arange(net.num_classes).repeat_interleave(n // net.num_classes)
        correct = (probs.argmax(1) == asked).float().view(net.num_classes, -1).mean(1)
        rows.append(dict(scores(real, (feats, probs)), guidance=w, per_class_accuracy=correct.tolist(),
                         samples_per_s=rate))
        print(f"guidance {w}: FID {rows[-1]['fid']:.4g}, worst class {correct.min():.3f}", file=sys.stderr, flush=True)
    return rows


def centre_box(generator: torch.Generator) -> torch.Tensor:
    """A square hole of 10 to 14 pixels inside the central 20x20 of a 28x28 digit."""
    side = int(torch.randint(10, 15, (1,), generator=generator))
    top, left = (int(v) for v in torch.randint(4, 24 - side + 1, (2,), generator=generator))
    mask = torch.zeros(1, 28, 28)
    mask[:, top:top + side, left:left + side] = 1
    return mask


def hole_psnr(out: torch.Tensor, clean: torch.Tensor, masks: torch.Tensor) -> float:
    """PSNR (dB) over each image's missing pixels, averaged over the images."""
    err = ((out - clean) ** 2 * masks).flatten(1).sum(1) / masks.flatten(1).sum(1).clamp_min(1)
    return float((10 * torch.log10(1 / err.clamp_min(1e-10))).mean())


def inpainting(model: str, digits: int, root: Path, judge: ClassifierFeatures) -> list[dict]:
    """RePaint, the learned inpainter and Telea on the same digits and masks."""
    import pixelsmith as ps
    from pixelsmith.data.idx import IDXDataset
    from pixelsmith.repaint import repaint

    data = IDXDataset(root, name=root.name, train=False)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:digits]
    clean, labels = data.images[order].float() / 255, data.labels[order]
    net = load_model(model)
    rows = []
    for kind in ("box", "strokes"):
        g = torch.Generator().manual_seed(1)
        masks = torch.stack([centre_box(g) if kind == "box" else stroke_mask(28, 28, g) for _ in range(digits)])
        holed = clean * (1 - masks)
        methods = {
            "holes left black": lambda: holed,
            "telea": lambda: torch.stack([ps.restore(x, "inpaint", mask=m, method="telea") for x, m in zip(holed, masks)]),
            "resunet-inpaint": lambda: torch.stack([ps.restore(x, "inpaint", mask=m) for x, m in zip(holed, masks)]),
            f"RePaint ({model})": lambda: repaint(net, holed, masks),
        }
        for name, run in methods.items():
            start = time.perf_counter()
            out = run().clamp(0, 1)
            seconds = (time.perf_counter() - start) / digits
            _, probs = judge.embed(out)
            rows.append({"mask": kind, "method": name, "hole_fraction": float(masks.mean()),
                         "psnr_hole": hole_psnr(out, clean, masks),
                         "accuracy": float((probs.argmax(1) == labels).float().mean()), "seconds_per_digit": seconds})
            print(f"{kind} {name}: {rows[-1]['psnr_hole']:.2f} dB, accuracy {rows[-1]['accuracy']:.3f}",
                  file=sys.stderr, flush=True)
        _, probs = judge.embed(clean)
        rows.append({"mask": kind, "method": "clean digits (ceiling)", "hole_fraction": float(masks.mean()),
                     "psnr_hole": float("inf"), "accuracy": float((probs.argmax(1) == labels).float().mean()),
                     "seconds_per_digit": 0.0})
    return rows


def inpainting_grid(model: str, root: Path, path: Path, digits: int = 10) -> None:
    """Rows for the first test digits of the inpainting rows: holed (box), RePaint, clean; then the same for
    strokes. Written to ``path`` so the fills can be looked at."""
    from pixelsmith.data.idx import IDXDataset
    from pixelsmith.pipelines.generate import make_grid
    from pixelsmith.repaint import repaint

    data = IDXDataset(root, name=root.name, train=False)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:digits]
    clean = data.images[order].float() / 255
    rows = []
    for kind in ("box", "strokes"):
        g = torch.Generator().manual_seed(1)
        masks = torch.stack([centre_box(g) if kind == "box" else stroke_mask(28, 28, g) for _ in range(digits)])
        holed = clean * (1 - masks) + 0.5 * masks  # the hole shown gray
        rows += [holed, repaint(load_model(model), clean * (1 - masks), masks).clamp(0, 1), clean]
    write_image(path, make_grid(torch.cat(rows), nrow=digits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ddpm-mnist")
    parser.add_argument("-n", type=int, default=1000, help="samples per quality row (and test images)")
    parser.add_argument("--digits", type=int, default=100, help="test digits per mask kind for inpainting")
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "diffusion"))
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which tables, of {', '.join(PARTS)}")
    args = parser.parse_args()
    parts = args.parts.split(",")
    if set(parts) - set(PARTS):
        sys.exit(f"unknown part '{sorted(set(parts) - set(PARTS))[0]}'; accepted: {', '.join(PARTS)}")
    config = load_model(args.model).config
    dataset = config["metadata"]["recipe"]["data"]
    root = Path(args.data_root) / dataset
    judge = ClassifierFeatures(f"classifier-{dataset.replace('fashion-mnist', 'fashion')}")
    floor, sweep = steps_sweep(args.model, args.n, root) if "sweep" in parts else ({}, [])
    guided = (guidance_sweep(args.model, args.n, root, judge)
              if "guidance" in parts and load_model(args.model).num_classes else [])
    filled = inpainting(args.model, args.digits, root, judge) if dataset == "mnist" and "inpaint" in parts else []
    if filled:
        inpainting_grid(args.model, root, ROOT / "docs" / "images" / f"repaint-{args.model}.png")

    lines = [f"# {args.model}: samplers, guidance, inpainting", "",
             f"Command: `python benchmarks/diffusion.py --model {args.model} -n {args.n} --digits {args.digits}"
             f"{'' if set(parts) == set(PARTS) else ' --parts ' + args.parts}`, "
             f"torch {torch.__version__}, {torch.get_num_threads()} thread(s). {args.n} samples per row against "
             f"{args.n} {dataset} test images under `{judge.name}`; the floor is {args.n} training images.", "",
             ]
    if sweep:
        lines += ["## Sampler and steps (every class equally often, no guidance)", "",
                  "| sampler, steps | FID | KID | precision | recall | spread | samples/s |", "|---" * 7 + "|",
                  quality_row("floor (real training images)", floor)]
        lines += [quality_row(f"{r['sampler']} {r['steps']}", r) for r in sweep]
    if guided:
        lines += ["", "## Classifier-free guidance (DPM-Solver++, 25 steps, N/10 samples of each class)", "",
                  "| guidance w | FID | KID | precision | recall | spread | samples/s | worst class accuracy | "
                  "mean class accuracy |", "|---" * 9 + "|"]
        for r in guided:
            acc = r["per_class_accuracy"]
            lines.append(quality_row(f"{r['guidance']:g}", r) + f" {min(acc):.3f} | {sum(acc) / len(acc):.3f} |")
    if filled:
        lines += ["", f"## Inpainting {args.digits} test digits", "",
                  "| mask | method | missing share | PSNR in the hole (dB) | classifier accuracy | s per digit |",
                  "|---" * 6 + "|"]
        lines += [f"| {r['mask']} | {r['method']} | {r['hole_fraction']:.3f} | {r['psnr_hole']:.2f} | "
                  f"{r['accuracy']:.3f} | {r['seconds_per_digit']:.3f} |" for r in filled]
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps({"floor": floor, "sweep": sweep, "guidance": guided,
                                                    "inpainting": filled}, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
