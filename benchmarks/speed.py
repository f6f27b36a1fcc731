"""How fast every restoration task runs on large photos, and how close that is to what this machine can do.

    python benchmarks/speed.py [--sizes 1,4,12] [--tasks denoise-gray,denoise,jpeg,inpaint,deblur,sr]
                               [--modes default,fast] [--work DIR]

Each case runs the command a user runs (`pixelsmith restore`, one process per image, model loading, decoding and
PNG writing included) under `/usr/bin/time -v`: wall seconds, megapixels of output per second and peak resident
memory. The model's work is counted once per task and mode by running the same command in-process under torch's
FlopCounterMode at 1 megapixel (tile overlap included) and scaled by the output's pixels; achieved TFLOP/s is that
work over the wall time (the default takes one pass above 4 megapixels, as `pixelsmith restore` does), beside a dense bf16 3x3 convolution (64 channels, 256x256, channels_last) measured in
the same run: the machine's practical limit for these networks.

The photo is a mosaic of real test images (McMaster, LIVE1 and Set14 from ../shared/data, each cut to 500x500
cells; gray for denoise-gray), so the PSNR column, on the whole image, is a real check that speed was not bought
with quality (scikit-image's astronaut, upscaled, stands in when the data folder is absent). Inputs come from
`pixelsmith degrade --seed 0`: noise sigma 25; JPEG quality 20; free-form strokes; Gaussian blur sigma 2 with
noise 2; bicubic downscaling by 4 (the 12 MP case reads 1000x750 and writes 4000x3000).
Writes benchmarks/results/speed.{json,md}; a run of some cases replaces those rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixelsmith.io import read_image
from pixelsmith.metrics import psnr
from pixelsmith.pipelines.restore import ENSEMBLE_MAX_PIXELS

OUT = Path(__file__).parent / "results" / "speed"
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SIZES = {"1": (1000, 1000), "4": (2000, 2000), "12": (4000, 3000)}  # megapixels: (width, height)
CELL = 500
CASES = {  # name: (gray photo, degrade arguments, input suffix, restore arguments)
    "denoise-gray": (True, ["--noise", "25"], ".png", ["--task", "denoise"]),
    "denoise": (False, ["--noise", "25"], ".png", ["--task", "denoise"]),
    "jpeg": (False, ["--jpeg", "20"], ".jpg", ["--task", "jpeg"]),
    "inpaint": (False, ["--mask", "strokes"], ".png", ["--task", "inpaint"]),
    "deblur": (False, ["--blur", "gaussian:2", "--noise", "2"], ".png",
               ["--task", "deblur", "--kernel", "gaussian:2", "--sigma", "2"]),
    "sr": (False, ["--downscale", "4"], ".png", ["--task", "sr", "--scale", "4"]),
}
MODES = {"default": [], "fast": ["--fast"]}


def cells() -> list[np.ndarray]:
    """500x500 RGB cells cut from the colour test sets (centre crops, smaller images upscaled first)."""
    files = sorted((DATA / "mcmaster").glob("*.tif")) + sorted((DATA / "live1").glob("*.png")) + \
        sorted((DATA / "set14").glob("*.png"))
    out = []
    for f in files:
        im = Image.open(f).convert("RGB")
        if min(im.size) < CELL:
            k = CELL / min(im.size)
            im = im.resize((round(im.width * k + 0.5), round(im.height * k + 0.5)), Image.BICUBIC)
        left, top = (im.width - CELL) // 2, (im.height - CELL) // 2
        out.append(np.asarray(im.crop((left, top, left + CELL, top + CELL))))
    return out


def make_photo(size: tuple[int, int], gray: bool, path: Path) -> None:
    w, h = size
    pieces = cells() if DATA.is_dir() else []
    if pieces:
        rows, cols = -(-h // CELL), -(-w // CELL)
        grid = np.concatenate([np.concatenate([pieces[(r * cols + c) % len(pieces)] for c in range(cols)], axis=1)
                               for r in range(rows)])
        rgb = Image.fromarray(grid[:h, :w])
    else:
        from skimage import data

        rgb = Image.fromarray(data.astronaut()).resize(size, Image.LANCZOS)
    (rgb.convert("L") if gray else rgb).save(path)


def timed(command: list[str]) -> tuple[float, float]:
    """Run a command under /usr/bin/time -v; returns (seconds, peak RSS in GB). Fails loudly on an error."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return seconds, kb / 1024**2


def cpu_name() -> str:
    """The processor's model name and whether it has AMX or AVX-512 BF16, which bf16 convolutions depend on."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = re.search(r"model name\s*:\s*(.+)", info)
    flags = set(re.search(r"flags\s*:\s*(.+)", info).group(1).split()) if "flags" in info else set()
    units = "AMX" if "amx_tile" in flags else "AVX-512 BF16, no AMX" if "avx512_bf16" in flags else "no bf16 units"
    return f"{name.group(1).strip() if name else platform.machine()} ({units})"


def model_gflop(arguments: list[str]) -> float:
    """GFLOP that `pixelsmith restore ARGUMENTS` does (torch's FlopCounterMode: convolutions and matrix products)."""
    from torch.utils.flop_counter import FlopCounterMode

    from pixelsmith.cli import main as cli

    with FlopCounterMode(display=False) as counter:
        if cli(["restore", *arguments, "--overwrite"]):
            sys.exit(f"failed: pixelsmith restore {' '.join(arguments)}")
    return counter.get_total_flops() / 1e9


def dense_conv_tflops(repeats: int = 20) -> float:
    """TFLOP/s of a 64-channel 3x3 bf16 convolution on 256x256 (channels_last): the median of ``repeats`` calls."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).to(torch.bfloat16, memory_format=torch.channels_last)
    x = torch.randn(1, 64, 256, 256).to(torch.bfloat16, memory_format=torch.channels_last)
    times = []
    with torch.no_grad():
        for i in range(repeats + 3):
            start = time.perf_counter()
            conv(x)
            if i >= 3:
                times.append(time.perf_counter() - start)
    return 2 * 64 * 64 * 9 * 256 * 256 / statistics.median(times) / 1e12


def degrade(clean: Path, out: Path, arguments: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "pixelsmith", "degrade", str(clean), "-o", str(out), *arguments,
                    "--seed", "0", "--overwrite"], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"megapixels, of {', '.join(SIZES)}")
    parser.add_argument("--tasks", default=",".join(CASES))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--work", help="folder for the images (default: a temporary one)")
    args = parser.parse_args()
    sizes, tasks, modes = args.sizes.split(","), args.tasks.split(","), args.modes.split(",")
    for given, known in ((sizes, SIZES), (tasks, CASES), (modes, MODES)):
        unknown = [g for g in given if g not in known]
        if unknown:
            sys.exit(f"unknown '{unknown[0]}'; accepted: {', '.join(known)}")
    work = Path(args.work or tempfile.mkdtemp(prefix="pixelsmith-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    limit, cpu = dense_conv_tflops(), cpu_name()
    print(f"dense bf16 conv: {limit:.2f} TFLOP/s; torch threads {torch.get_num_threads()}; work folder {work}")
    exe = [sys.executable, "-m", "pixelsmith", "restore"]
    rows, flops = [], {}
    for size in sizes:
        for task in tasks:
            gray, degrade_args, suffix, restore_args = CASES[task]
            clean = work / f"clean-{size}{'-gray' if gray else ''}.png"
            if not clean.exists():
                make_photo(SIZES[size], gray, clean)
            degraded = work / f"{task}-{size}-in{suffix}"
            degrade(clean, degraded, degrade_args)
            for mode in modes:
                restored = work / f"{task}-{size}-{mode}.png"
                arguments = [str(degraded), "-o", str(restored), *restore_args, *MODES[mode]]
                # GFLOP per output megapixel, counted at 1 MP with the passes the default takes at this size
                passes = MODES[mode] or (["--fast"] if SIZES[size][0] * SIZES[size][1] > ENSEMBLE_MAX_PIXELS
                                         else ["--ensemble"])
                if (task, *passes) not in flops:
                    small = work / f"clean-flops{'-gray' if gray else ''}.png"
                    make_photo(SIZES["1"], gray, small)
                    degrade(small, work / f"flops-in{suffix}", degrade_args)
                    flops[task, *passes] = model_gflop([str(work / f"flops-in{suffix}"), "-o",
                                                        str(work / "flops-out.png"), *restore_args, *passes])
                seconds, gb = timed([*exe, *arguments, "--overwrite"])
                out, ref = read_image(restored), read_image(clean)
                megapixels = out.pixels[0].numel() / 1e6
                gflop = flops[task, *passes] * megapixels / (SIZES["1"][0] * SIZES["1"][1] / 1e6)
                row = {"task": task, "megapixels": size, "mode": mode,
                       "output": "x".join(map(str, out.pixels.shape[:0:-1])), "seconds": round(seconds, 1),
                       "mp_per_s": round(megapixels / seconds, 2), "peak_rss_gb": round(gb, 2),
                       "gflop": round(gflop), "tflops": round(gflop / 1e3 / seconds, 3),
                       "limit_tflops": round(limit, 3), "psnr": round(psnr(out.pixels, ref.pixels).item(), 2),
                       "cpu": cpu}
                rows.append(row)
                print(row, flush=True)
    def key(r: dict) -> tuple:
        return r["task"], r["megapixels"], r["mode"]

    saved = OUT.with_suffix(".json")
    done = {key(r) for r in rows}
    previous = json.loads(saved.read_text())["rows"] if saved.is_file() else []
    rows = sorted([r for r in previous if key(r) not in done] + rows,
                  key=lambda r: (list(SIZES).index(r["megapixels"]), list(CASES).index(r["task"]),
                                 list(MODES).index(r["mode"])))
    write_results(rows)


def write_results(rows: list[dict]) -> None:
    """benchmarks/results/speed.{json,md} from the rows of every case."""
    header = ("| task | MP | mode | output | seconds | MP/s | peak RSS (GB) | model GFLOP | TFLOP/s | of the limit | "
              "PSNR (dB) | CPU |")
    lines = [header, "|" + "---|" * 12]
    for r in rows:
        lines.append(f"| {r['task']} | {r['megapixels']} | {r['mode']} | {r['output']} | {r['seconds']} | "
                     f"{r['mp_per_s']} | {r['peak_rss_gb']} | {r['gflop']} | {r['tflops']} | "
                     f"{100 * r['tflops'] / r['limit_tflops']:.0f}% | {r['psnr']} | {r.get('cpu', 'not recorded')} |")
    table = "\n".join(lines)
    print(table)
    intro = (f"# Large images, end to end\n\n`python benchmarks/speed.py`, "
             f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); rows may come from several runs "
             f"(`--tasks`, `--sizes`), each beside the dense bf16 convolution measured in its own run "
             f"(\"of the limit\"). The 12 MP sr row reads 1000x750 and writes 4000x3000.\n\n")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.with_suffix(".json").write_text(json.dumps({"threads": torch.get_num_threads(), "rows": rows}, indent=1))
    OUT.with_suffix(".md").write_text(intro + table + "\n")


if __name__ == "__main__":
    main()
