"""How fast the command line answers: seconds from starting `pixelsmith` to its first line of output, for
`models`, `--help` and a restore of a zero-byte file (refused), each run RUNS times (median, min, max). With
``--baseline DIR`` (a checkout of another version, for example a git worktree of the previous main) the same
commands run from that tree in the same session, alternately, as the baseline.

    python benchmarks/cli_latency.py [--runs 5] [--baseline /tmp/old]

Writes benchmarks/results/cli_latency.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def first_line(args: list[str], env: dict, cwd: str) -> float:
    start = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "pixelsmith", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True)
    process.stdout.readline()
    elapsed = time.monotonic() - start
    process.kill()
    process.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", help="a source tree of another version to compare with")
    args = parser.parse_args()
    trees = {"this tree": dict(os.environ)}
    if args.baseline:
        trees["baseline"] = dict(os.environ, PYTHONPATH=str(Path(args.baseline).resolve()))
    commands = {"pixelsmith models": ["models"], "pixelsmith --help": ["--help"],
                "pixelsmith restore zero-byte.png -o x.png": ["restore", "zero-byte.png", "-o", "x.png"]}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "zero-byte.png").write_bytes(b"")
        for name, command in commands.items():
            times: dict[str, list[float]] = {tree: [] for tree in trees}
            for _ in range(args.runs):
                for tree, env in trees.items():
                    times[tree].append(first_line(command, env, tmp))
            for tree, runs in times.items():
                rows.append({"command": name, "tree": tree, "median_s": statistics.median(runs), "min_s": min(runs),
                             "max_s": max(runs)})
    lines = ["# CLI latency", "", f"Seconds to the first line of output, {args.runs} runs each, alternating; "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores.", "",
             "| command | tree | median s | min s | max s |", "|---|---|---|---|---|"]
    lines += [f"| {r['command']} | {r['tree']} | {r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} |"
              for r in rows]
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cli_latency.json").write_text(json.dumps({"runs": args.runs, "rows": rows}, indent=2) + "\n")
    (RESULTS / "cli_latency.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
