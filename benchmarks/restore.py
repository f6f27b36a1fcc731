"""The restoration benchmark: for every task and setting, the learned method against each classical baseline,
all in one run, on the development sets in ../shared/data (none of them used to train the model it scores).

    python benchmarks/restore.py [--tasks denoise-gray,denoise-color,sr,jpeg,inpaint,deblur] [--data DIR] [--skip M,..]

Settings and protocols
- denoise-gray: set12, sigma 15/25/50; denoise-color: mcmaster, sigma 15/25/50. Two protocols: 'float' is the
  literature's (noise added in float, neither clipped nor quantised), 'realistic' clips to [0, 1] and quantises to
  8 bits as users' files are. Methods get the true sigma; PSNR/SSIM on the whole image (RGB for colour). For colour
  the default mixes two views of the gray model on opponent channels with the colour model on a file-like
  (clipped) input, by a weight that grows with sigma, and takes three opponent views alone on an unclipped one;
  both single paths are listed too.
- sr: set14 downscaled by MATLAB-style antialiased bicubic (torch's, a=-0.5) x2/x3/x4 (HR cropped to a multiple of the scale); PSNR/SSIM
  on the Y channel (MATLAB rgb2ycbcr) with a border of `scale` pixels cropped, as SR papers do.
- jpeg: live1 compressed by libjpeg (Pillow, 4:2:0) at q10/20/30/40, quality given; PSNR/SSIM on Y, whole image
  (the JPEG literature, ARCNN to FBCNN, does not crop).
- inpaint: inpaint/set1 (random missing pixels, 50-80%) with its own masks, and set12 with seeded free-form stroke
  masks and seeded text overlays; PSNR over the whole image (known pixels are kept by every method). inpaint/set2
  (cracks and text on real photos) has no clean reference: its fills go to results/by-eye/, not into the table.
- deblur: set12 blurred (reflective boundary) by gaussian:1.6 and motion:15:30 plus Gaussian noise of std 2,
  clipped and quantised; the noise level is given.
Timing is wall time in seconds per megapixel of output on this machine (torch threads as printed). The bm3d
package runs on both cores of this machine whatever the thread settings (its CPU time is twice its wall time, also
with OMP_NUM_THREADS=1), so for a fair speed comparison run this alone with torch on every core (the default).
Writes benchmarks/results/restore.{json,md}; a run of some tasks replaces those tasks' rows only, and keeps
the saved rows of the methods it skips.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import platform
import sys
import time
from pathlib import Path

import torch

from pixelsmith.colorspace import matlab_luma
from pixelsmith.degradations import (add_gaussian_noise, bicubic_downscale, blur, jpeg_compress, parse_kernel,
                                     stroke_mask, text_mask)
from pixelsmith.io import read_image, write_image
from pixelsmith.metrics import psnr, ssim
from pixelsmith.pipelines.deblur import deblur
from pixelsmith.pipelines.denoise import denoise
from pixelsmith.pipelines.inpaint import inpaint
from pixelsmith.pipelines.jpeg import remove_jpeg_artifacts
from pixelsmith.pipelines.sr import super_resolve
from pixelsmith.probe import find_images
from results_file import merge_rows

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
OUT = Path(__file__).parent / "results" / "restore"
SEEN = Path(__file__).parent / "results" / "by-eye"


def load(folder: Path, channels: int | None = None) -> list[tuple[str, torch.Tensor]]:
    return [(f.name, read_image(f, channels=channels).pixels) for f in find_images(folder)]


def score(restored: torch.Tensor, clean: torch.Tensor, luma: bool = False, border: int = 0) -> tuple[float, float]:
    restored = restored.clamp(0, 1)
    if luma:
        restored, clean = matlab_luma(restored), matlab_luma(clean)
    if border:
        restored, clean = restored[..., border:-border, border:-border], clean[..., border:-border, border:-border]
    return psnr(restored, clean).item(), ssim(restored, clean)


SKIP: set[str] = set()  # method names left out of this run (--skip)


def run_setting(rows: list, task: str, setting: str, cases: list, methods: dict, luma: bool = False,
                border: int = 0) -> None:
    """cases: (clean, degraded, extra) triples; methods: name -> fn(degraded, extra) -> restored."""
    for name, fn in methods.items():
        if name in SKIP:
            continue
        p, s, seconds, pixels = [], [], 0.0, 0
        for clean, degraded, extra in cases:
            t = time.perf_counter()
            restored = fn(degraded, extra)
            seconds += time.perf_counter() - t
            pixels += restored.shape[-1] * restored.shape[-2]
            a, b = score(restored, clean, luma, border)
            p.append(a)
            s.append(b)
        row = {"task": task, "setting": setting, "method": name, "psnr": sum(p) / len(p), "ssim": sum(s) / len(s),
               "s_per_mp": seconds / (pixels / 1e6), "images": len(cases)}
        rows.append(row)
        print(f"{task:<14} {setting:<28} {name:<22} PSNR {row['psnr']:6.2f}  SSIM {row['ssim']:.4f}  "
              f"{row['s_per_mp']:8.3f} s/MP", flush=True)


def bench_denoise(rows: list, task: str, folder: Path, channels: int) -> None:
    images = load(folder, channels)
    methods = {
        "model (default)": lambda x, s: denoise(x, s),
        "model --fast": lambda x, s: denoise(x, s, ensemble=False),
        "model, sigma estimated": lambda x, s: denoise(x),
        **({"gray model, opponent channels": lambda x, s: denoise(x, s, model="resunet-denoise-gray", colour="views"),
            "colour model (resunet-denoise-color)": lambda x, s: denoise(x, s, model="resunet-denoise-color")}
           if channels == 3 else {}),
        "BM3D" if channels == 1 else "CBM3D": lambda x, s: denoise(x, s, method="bm3d"),
        "NLM": lambda x, s: denoise(x, s, method="nlm"),
        "TV": lambda x, s: denoise(x, s, method="tv"),
        "wavelet": lambda x, s: denoise(x, s, method="wavelet"),
    }
    for protocol in ("float", "realistic"):
        for sigma in (15, 25, 50):
            cases = []
            for i, (_, clean) in enumerate(images):
                g = torch.Generator().manual_seed(1000 * sigma + i)
                real = protocol == "realistic"
                cases.append((clean, add_gaussian_noise(clean, sigma, g, clip=real, quantize=real), sigma))
            run_setting(rows, task, f"{folder.name} {protocol} sigma={sigma}", cases, methods)


def bench_sr(rows: list, data: Path) -> None:
    images = load(data / "set14", 3)
    methods = {
        "model (default)": lambda x, s: super_resolve(x, s),
        "model --fast": lambda x, s: super_resolve(x, s, ensemble=False),
        "plug-and-play (pnp)": lambda x, s: super_resolve(x, s, method="pnp"),
        "bicubic": lambda x, s: super_resolve(x, s, method="bicubic"),
        "lanczos": lambda x, s: super_resolve(x, s, method="lanczos"),
    }
    for scale in (2, 3, 4):
        cases = []
        for _, hr in images:
            hr = hr[..., : hr.shape[-2] // scale * scale, : hr.shape[-1] // scale * scale]
            cases.append((hr, bicubic_downscale(hr, scale).clamp(0, 1), scale))
        run_setting(rows, "sr", f"set14 x{scale}", cases, methods, luma=True, border=scale)


def bench_jpeg(rows: list, data: Path) -> None:
    images = load(data / "live1", 3)
    methods = {"model (default)": lambda x, q: remove_jpeg_artifacts(x, q),
               "model --fast": lambda x, q: remove_jpeg_artifacts(x, q, ensemble=False),
               "JPEG (decoded)": lambda x, q: remove_jpeg_artifacts(x, q, method="none")}
    for quality in (10, 20, 30, 40):
        cases = [(clean, jpeg_compress(clean, quality), quality) for _, clean in images]
        run_setting(rows, "jpeg", f"live1 q{quality}", cases, methods, luma=True)


def bench_inpaint(rows: list, data: Path) -> None:
    methods = {name: (lambda m: lambda x, mask: inpaint(x, mask, method=m))(m)
               for name, m in (("model", "model"), ("telea", "telea"), ("NS", "ns"), ("biharmonic", "biharmonic"))}
    set1 = []
    for clean_name, masked_name in (("09", "09_50_masked"), ("butterfly_gray", "butterfly_gray_75_masked"),
                                    ("butterfly_color", "butterfly_color_80_masked")):
        clean = read_image(data / "inpaint" / "set1" / f"{clean_name}.png").pixels
        masked = read_image(data / "inpaint" / "set1" / f"{masked_name}.png").pixels
        mask = (masked.amax(0, keepdim=True) == 0).float()
        set1.append((clean, clean * (1 - mask), mask))
    run_setting(rows, "inpaint", "inpaint/set1 random pixels", set1, methods)
    set12 = load(data / "set12", 1)
    for setting, make_mask, seed in (("set12 free-form strokes", lambda h, w, g: stroke_mask(h, w, g, strokes=3), 0),
                                     ("set12 text overlay", text_mask, 100)):
        cases = []
        for i, (_, clean) in enumerate(set12):
            mask = make_mask(*clean.shape[-2:], torch.Generator().manual_seed(seed + i))
            cases.append((clean, clean * (1 - mask), mask))
        run_setting(rows, "inpaint", setting, cases, methods)
    # inpaint/set2 holds real damaged photos (cracks on 3ch, text on new) and their masks, with no clean
    # reference: the model's and biharmonic's fills are written for judging by eye, not scored.
    SEEN.mkdir(parents=True, exist_ok=True)
    for stem in ("3ch", "new"):
        photo = read_image(data / "inpaint" / "set2" / f"{stem}.png").pixels
        mask = (read_image(data / "inpaint" / "set2" / f"{stem}_mask.png", channels=1).pixels > 0.5).float()
        for method in ("model", "biharmonic"):
            write_image(SEEN / f"set2-{stem}-{method}.png", inpaint(photo, mask, method=method))


def bench_deblur(rows: list, data: Path) -> None:
    images = load(data / "set12", 1)
    methods = {"model (plug-and-play)": lambda x, k: deblur(x, k, sigma=2.0),
               "wiener": lambda x, k: deblur(x, k, sigma=2.0, method="wiener"),
               "richardson-lucy": lambda x, k: deblur(x, k, sigma=2.0, method="rl")}
    for spec in ("gaussian:1.6", "motion:15:30"):
        kernel = parse_kernel(spec)
        cases = []
        for i, (_, clean) in enumerate(images):
            g = torch.Generator().manual_seed(7000 + i)
            blurred = add_gaussian_noise(blur(clean, kernel, "reflect"), 2.0, g, clip=True, quantize=True)
            cases.append((clean, blurred, kernel))
        run_setting(rows, "deblur", f"set12 {spec} noise 2", cases, methods)


TASKS = {
    "denoise-gray": lambda rows, data: bench_denoise(rows, "denoise gray", data / "set12", 1),
    "denoise-color": lambda rows, data: bench_denoise(rows, "denoise color", data / "mcmaster", 3),
    "sr": bench_sr,
    "jpeg": bench_jpeg,
    "inpaint": bench_inpaint,
    "deblur": bench_deblur,
}


CLASSICAL = {"BM3D", "CBM3D", "NLM", "TV", "wavelet", "bicubic", "lanczos", "JPEG (decoded)", "telea", "NS",
             "biharmonic", "wiener", "richardson-lucy"}


def summary_table(rows: list) -> str:
    """One line per setting: the learned default (the first method listed) against the best classical method."""
    lines = ["| task | setting | learned (default) | best classical | gain (dB) | s / MP, learned vs classical |",
             "|---|---|---|---|---|---|"]
    settings = dict.fromkeys((r["task"], r["setting"]) for r in rows)
    for task, setting in settings:
        group = [r for r in rows if (r["task"], r["setting"]) == (task, setting)]
        learned = group[0]
        classical = [r for r in group if r["method"] in CLASSICAL]
        if learned["method"] in CLASSICAL or not classical:
            continue
        best = max(classical, key=lambda r: r["psnr"])
        lines.append(f"| {task} | {setting} | {learned['psnr']:.2f} | {best['method']} {best['psnr']:.2f} | "
                     f"{learned['psnr'] - best['psnr']:+.2f} | {learned['s_per_mp']:.2f} vs {best['s_per_mp']:.2f} |")
    return "\n".join(lines) + "\n"


def write_tables(rows: list, meta: dict) -> str:
    header = "| task | setting | method | PSNR (dB) | SSIM | s / MP |\n|---|---|---|---|---|---|\n"
    table = header + "".join(f"| {r['task']} | {r['setting']} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                             f"{r['s_per_mp']:.3f} |\n" for r in rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    OUT.with_suffix(".md").write_text("# Restoration benchmark\n\n" + __doc__.split("\n\n", 2)[2].split("Writes")[0]
                                      + f"\n```\n{json.dumps(meta, indent=2)}\n```\n\n## Summary\n\n"
                                      + summary_table(rows) + "\n## All methods\n\n" + table)
    return table


NAMES = {"denoise-gray": "denoise gray", "denoise-color": "denoise color"}


def merge_and_write(rows: list, done: set, meta: dict) -> str:
    """Replace the rows of the tasks in ``done`` in the saved results (re-read now, under a lock, so runs of
    other tasks side by side keep theirs) and write the JSON and markdown."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return write_tables(merge_rows(OUT.with_suffix(".json"), rows, done, [NAMES.get(t, t) for t in TASKS],
                                       SKIP), meta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--skip", default="", help="comma-separated method names to leave out of this run, e.g. "
                        "'plug-and-play (pnp)' (their saved rows are kept)")
    parser.add_argument("--tables-only", action="store_true", help="rewrite the markdown from the saved JSON")
    parser.add_argument("--check", type=float, metavar="DB",
                        help="compare each row's PSNR with the saved results instead of replacing them; exit 1 when "
                             "one differs by more than DB (writes results/restore_check.md)")
    args = parser.parse_args()
    if args.tables_only:
        saved = json.loads(OUT.with_suffix(".json").read_text())
        write_tables(saved["rows"], saved["meta"])
        print(summary_table(saved["rows"]))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    SKIP.update(m for m in args.skip.split(",") if m)
    tasks = args.tasks.split(",")
    unknown = set(tasks) - set(TASKS)
    if unknown:
        parser.error(f"unknown task(s) {', '.join(sorted(unknown))}; accepted: {', '.join(TASKS)}")
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "command": " ".join(["python", "benchmarks/restore.py", *sys.argv[1:]])}
    if args.check is not None:
        sys.exit(check_against_saved(tasks, Path(args.data), args.check, meta))
    for task in tasks:  # each task's rows are written as soon as it is done, so a stopped run keeps them
        rows = []
        TASKS[task](rows, Path(args.data))
        table = merge_and_write(rows, {NAMES.get(task, task)}, meta)
    print("\n" + table)


def check_against_saved(tasks: list[str], data: Path, tolerance: float, meta: dict) -> int:
    """Rerun ``tasks`` and compare every row's PSNR with the saved results; 1 when one is off by more than
    ``tolerance`` dB or missing. The table goes to results/restore_check.md, the saved results stay."""
    rows_saved = json.loads(OUT.with_suffix(".json").read_text())["rows"]
    saved = {(r["task"], r["setting"], r["method"]): r for r in rows_saved}
    lines = ["| task | setting | method | saved PSNR | now | difference (dB) |", "|---|---|---|---|---|---|"]
    worst = 0.0
    for task in tasks:
        rows = []
        TASKS[task](rows, data)
        for r in rows:
            old = saved.get((r["task"], r["setting"], r["method"]))
            diff = float("inf") if old is None else r["psnr"] - old["psnr"]
            worst = max(worst, abs(diff))
            lines.append(f"| {r['task']} | {r['setting']} | {r['method']} | "
                         f"{'-' if old is None else format(old['psnr'], '.4f')} | {r['psnr']:.4f} | {diff:+.4f} |")
        path = OUT.parent / "restore_check.md"
        path.write_text(f"# Rerun against the saved results (tolerance {tolerance} dB)\n\n```\n"
                        f"{json.dumps(meta, indent=2)}\n```\n\nLargest difference: {worst:.4f} dB\n\n"
                        + "\n".join(lines) + "\n")
    print("\n".join(lines) + f"\nlargest difference {worst:.4f} dB (tolerance {tolerance})")
    return 0 if worst <= tolerance else 1


if __name__ == "__main__":
    main()
