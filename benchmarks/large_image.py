"""Every restoration task on a 4000x3000 photo through the command line a user runs, with wall time and peak
memory (`/usr/bin/time -v`, maximum resident set size) of each `pixelsmith restore` process.

    python benchmarks/large_image.py [--work DIR] [--tasks denoise,jpeg,inpaint,deblur,sr,denoise16]

The photo is scikit-image's astronaut (512x512) upscaled by Lanczos to 4000x3000 (stretched), so it has no
fine detail of its own: the PSNR column only shows that each task works at this size; `benchmarks/restore.py`
measures quality. Inputs are made with `pixelsmith degrade`: noise sigma 25; JPEG quality 20; free-form strokes
(transparent pixels of an RGBA file); Gaussian blur sigma 2 plus noise 2; bicubic downscaling by 4 (1000x750 in,
4000x3000 out); and a 16-bit noisy PNG. Writes benchmarks/results/large_image.{json,md} (a run of some tasks
replaces those tasks' rows).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pixelsmith.io import read_image
from pixelsmith.metrics import psnr
from results_file import merge_rows

OUT = Path(__file__).parent / "results" / "large_image"
CASES = {  # name: (degrade arguments, input suffix, restore arguments)
    "denoise": (["--noise", "25"], ".png", ["--task", "denoise"]),
    "jpeg": (["--jpeg", "20"], ".jpg", ["--task", "jpeg"]),
    "inpaint": (["--mask", "strokes"], ".png", ["--task", "inpaint"]),
    "deblur": (["--blur", "gaussian:2", "--noise", "2"], ".png", ["--task", "deblur", "--kernel", "gaussian:2",
                                                                  "--sigma", "2"]),
    "sr": (["--downscale", "4"], ".png", ["--task", "sr", "--scale", "4"]),
    "denoise16": (["--noise", "25"], ".png", ["--task", "denoise"]),
}


def run(command: list[str]) -> tuple[float, float]:
    """Run a command under /usr/bin/time -v; returns (seconds, peak RSS in GB). Fails loudly on an error."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return seconds, kb / 1024**2


def make_clean(folder: Path, size: tuple[int, int]) -> dict[str, Path]:
    from skimage import data

    rgb = Image.fromarray(data.astronaut()).resize(size, Image.LANCZOS)
    clean = folder / "clean.png"
    rgb.save(clean)
    clean16 = folder / "clean16.png"
    import cv2

    cv2.imwrite(str(clean16), (np.asarray(rgb)[..., ::-1].astype(np.uint16) * 257))
    return {"rgb": clean, "rgb16": clean16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", help="folder for the images (default: a temporary one)")
    parser.add_argument("--tasks", default=",".join(CASES))
    parser.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT of the photo (default 4000x3000)")
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    unknown = [t for t in tasks if t not in CASES]
    if unknown:
        sys.exit(f"unknown task '{unknown[0]}'; accepted: {', '.join(CASES)}")
    work = Path(args.work or tempfile.mkdtemp(prefix="pixelsmith-large-"))
    work.mkdir(parents=True, exist_ok=True)
    clean = make_clean(work, tuple(int(v) for v in args.size.split("x")))
    exe = [sys.executable, "-m", "pixelsmith"]
    rows = []
    print(f"threads: {os.environ.get('OMP_NUM_THREADS', 'torch default')}; work folder {work}")
    for name in tasks:
        degrade, suffix, restore = CASES[name]
        reference = clean["rgb16" if name == "denoise16" else "rgb"]
        degraded, restored = work / f"{name}-in{suffix}", work / f"{name}-out.png"
        subprocess.run([*exe, "degrade", str(reference), "-o", str(degraded), *degrade, "--seed", "0",
                        "--overwrite"], check=True, capture_output=True)
        seconds, gb = run([*exe, "restore", str(degraded), "-o", str(restored), *restore, "--overwrite"])
        out, ref = read_image(restored), read_image(reference)
        before = read_image(degraded)
        row = {"task": name, "input": "x".join(map(str, before.pixels.shape[:0:-1])),
               "output": "x".join(map(str, out.pixels.shape[:0:-1])), "bits": out.bit_depth,
               "seconds": round(seconds, 1), "peak_rss_gb": round(gb, 2),
               "psnr_out": round(psnr(out.pixels, ref.pixels).item(), 2)}
        if before.pixels.shape == ref.pixels.shape and name != "inpaint":  # inpaint: holes are transparent
            row["psnr_in"] = round(psnr(before.pixels, ref.pixels).item(), 2)
        rows.append(row)
        print(row, flush=True)
    rows = merge_rows(OUT.with_suffix(".json"), rows, set(tasks), list(CASES))
    lines = ["| task | input | output | bits | PSNR in | PSNR out | seconds | peak RSS (GB) |", "|" + "---|" * 8]
    for r in rows:
        lines.append(f"| {r['task']} | {r['input']} | {r['output']} | {r['bits']} | {r.get('psnr_in', '-')} | "
                     f"{r['psnr_out']} | {r['seconds']} | {r['peak_rss_gb']} |")
    table = "\n".join(lines)
    print(table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.with_suffix(".json").write_text(json.dumps({"threads": os.environ.get("OMP_NUM_THREADS"), "rows": rows},
                                                   indent=1))
    OUT.with_suffix(".md").write_text(table + "\n")


if __name__ == "__main__":
    main()
