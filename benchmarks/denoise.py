"""Gray denoising on set12: the bundled learned denoiser vs BM3D vs non-local means, in one run.

    python benchmarks/denoise.py [--data ../shared/data/set12] [--sigmas 15,25,50] [--protocols float,realistic]

Protocols: 'float' is the literature's (noise added in float, neither clipped nor quantised: compare
with published tables); 'realistic' clips the noisy image to [0, 1] and quantises it to 8 bits, as a
user's file is. PSNR/SSIM are computed on the restored image clipped to [0, 1] against the 8-bit clean
image, over the whole image. Seconds are wall time per image on this machine (all cores torch sees).
Writes benchmarks/results/denoise.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from pixelsmith.degradations import add_gaussian_noise
from pixelsmith.io import find_images, read_image
from pixelsmith.metrics import psnr, ssim
from pixelsmith.pipelines.restore import DEFAULT_MODELS, denoise

METHODS = {  # the default averages 4 flips, in bf16; --fast is one pass; --fp32 turns autocast off
    "resunet (default)": lambda x, s: denoise(x, "model", bf16=True, ensemble=True),
    "resunet --fp32": lambda x, s: denoise(x, "model", bf16=False, ensemble=True),
    "resunet --fast": lambda x, s: denoise(x, "model", bf16=True, ensemble=False),
    "resunet --fast --fp32": lambda x, s: denoise(x, "model", bf16=False, ensemble=False),
    "BM3D": lambda x, s: denoise(x, "bm3d", sigma=s),
    "NLM": lambda x, s: denoise(x, "nlm", sigma=s),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "set12"))
    parser.add_argument("--sigmas", default="15,25,50")
    parser.add_argument("--protocols", default="float")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "denoise"))
    args = parser.parse_args()
    files = find_images(args.data)
    images = [read_image(f, channels=1).pixels for f in files]
    methods = args.methods.split(",")
    denoise(images[0][:, :32, :32])  # load the model and warm up before timing

    rows = []
    for protocol in args.protocols.split(","):
        for sigma in [float(s) for s in args.sigmas.split(",")]:
            for method in methods:
                scores = {"psnr": [], "ssim": [], "seconds": []}
                for i, clean in enumerate(images):
                    g = torch.Generator().manual_seed(1000 * int(sigma) + i)  # the same noise for every method
                    realistic = protocol == "realistic"
                    noisy = add_gaussian_noise(clean, sigma, g, clip=realistic, quantize=realistic)
                    t = time.perf_counter()
                    restored = METHODS[method](noisy, sigma).clamp(0, 1)
                    scores["seconds"].append(time.perf_counter() - t)
                    scores["psnr"].append(psnr(restored, clean).item())
                    scores["ssim"].append(ssim(restored, clean))
                row = {"protocol": protocol, "sigma": sigma, "method": method,
                       **{k: sum(v) / len(v) for k, v in scores.items()}}
                rows.append(row)
                print(f"{protocol:<10} sigma={sigma:>4.0f} {method:<22} PSNR {row['psnr']:6.2f}  "
                      f"SSIM {row['ssim']:.4f}  {row['seconds']:7.3f} s/img", flush=True)

    header = "| protocol | sigma | method | PSNR (dB) | SSIM | s / image |\n|---|---|---|---|---|---|\n"
    table = header + "".join(f"| {r['protocol']} | {r['sigma']:.0f} | {r['method']} | {r['psnr']:.2f} | "
                             f"{r['ssim']:.4f} | {r['seconds']:.3f} |\n" for r in rows)
    print("\n" + table)
    meta = {"data": str(Path(args.data).name), "images": [f.name for f in files], "model": DEFAULT_MODELS["denoise"],
            "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "noise_seed": "1000 * sigma + image index", "psnr": "whole image, restored clipped to [0,1], vs 8-bit clean"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"protocol": meta, "rows": rows}, indent=2) + "\n")
    out.with_suffix(".md").write_text(f"# Denoising benchmark ({meta['data']})\n\n```\n{json.dumps(meta, indent=2)}\n```\n\n"
                                      + table)


if __name__ == "__main__":
    main()
