"""Load on a local `pixelsmith serve`: concurrent clients for a bounded time, on loopback only.

    python benchmarks/serve_load.py [--clients 8] [--warmup 20] [--seconds 30] [--workers 1] [--queue 8]

Starts the server as a user would (`python -m pixelsmith serve` on a free port of 127.0.0.1), then runs
``--clients`` threads, each repeating a mix of what the web page does: a quick restoration (POST /v1/restore,
a 96x96 gray PNG at sigma 25), a generation job (POST /v1/jobs, poll, fetch the result), the model listing and
the health check. The first ``--warmup`` seconds warm the server up (models loaded, allocator settled) and are
reported apart; the next ``--seconds`` are measured. Warm-up and measured time together are at most 60 s.
Prints requests per second, latency percentiles per kind of request, status counts (503 is the server's
deliberate "queue full" answer; any other 5xx is a failure) and the server's resident memory at start, after
the warm-up and at the end. Writes benchmarks/results/serve_load.{json,md}.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` and its children, in MB (from /proc)."""
    total = 0
    for p in [pid] + children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def children(pid: int) -> list[int]:
    try:
        kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in children(k)]


def test_image() -> bytes:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:96]
    clean = 128 + 60 * np.sin(x / 9) * np.cos(y / 13)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


class Load:
    """The clients' shared record: (phase, kind, status, seconds) per request."""

    def __init__(self, url: str) -> None:
        self.url, self.image = url, test_image()
        self.records: list[tuple[str, str, int, float]] = []
        self.lock = threading.Lock()
        self.phase = "warmup"
        self.stop = threading.Event()

    def timed(self, client: httpx.Client, kind: str, method: str, path: str, **kw) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            r = client.request(method, self.url + path, **kw)
            status = r.status_code
        except httpx.HTTPError:
            r, status = None, 0  # no answer at all: counted as a failure
        with self.lock:
            self.records.append((self.phase, kind, status, time.perf_counter() - start))
        return r

    def client(self, k: int) -> None:
        with httpx.Client(timeout=120) as c:
            i = 0
            while not self.stop.is_set():
                i += 1
                self.timed(c, "restore", "POST", "/v1/restore", files={"image": ("a.png", self.image)},
                           data={"sigma": "25"})
                if i % 2 == 0:
                    r = self.timed(c, "job submit", "POST", "/v1/jobs",
                                   data={"kind": "generate", "model": "cgan-mnist", "n": "16", "seed": str(k)})
                    if r is not None and r.status_code == 202:
                        job = r.json()["id"]
                        state = None
                        while not self.stop.is_set() and state not in ("done", "failed", "cancelled"):
                            s = self.timed(c, "job status", "GET", f"/v1/jobs/{job}")
                            state = s.json().get("state") if s is not None else "failed"
                            time.sleep(0.1)
                        if state == "done":
                            self.timed(c, "job result", "GET", f"/v1/jobs/{job}/result")
                self.timed(c, "models", "GET", "/v1/models")
                self.timed(c, "healthz", "GET", "/healthz")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=1, help="the server's --workers")
    parser.add_argument("--queue", type=int, default=8, help="the server's --queue")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serve_load"))
    args = parser.parse_args()
    if not 1 <= args.clients <= 64:
        sys.exit("--clients must be 1 to 64")
    if args.warmup + args.seconds > 60 or args.seconds <= 0 or args.warmup < 0:
        sys.exit("--warmup + --seconds must be at most 60 s, and --seconds positive")

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "pixelsmith", "serve", "--port", str(port), "--workers",
                               str(args.workers), "--queue", str(args.queue)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            sys.exit("the server did not start within 30 s")
        memory = {"start": rss_mb(server.pid)}
        load = Load(url)
        threads = [threading.Thread(target=load.client, args=(k,), daemon=True) for k in range(args.clients)]
        begin = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(args.warmup)
        memory["after_warmup"] = rss_mb(server.pid)
        load.phase = "measured"
        measured_start = time.perf_counter()
        peak = memory["after_warmup"]
        while time.perf_counter() - measured_start < args.seconds:
            time.sleep(0.5)
            peak = max(peak, rss_mb(server.pid))
        load.stop.set()
        measured = time.perf_counter() - measured_start
        for t in threads:
            t.join(timeout=130)
        memory["end"], memory["peak"] = rss_mb(server.pid), peak
        alive = httpx.get(url + "/healthz", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)

    rows = [r for r in load.records if r[0] == "measured"]
    statuses = Counter(r[2] for r in rows)
    by_kind = defaultdict(list)
    for _, kind, status, seconds in rows:
        if status < 500 and status != 0:
            by_kind[kind].append(seconds)
    failures = sum(n for s, n in statuses.items() if s == 0 or (s >= 500 and s != 503))
    growth = memory["end"] / memory["after_warmup"] - 1
    result = {"clients": args.clients, "warmup_s": args.warmup, "measured_s": round(measured, 1),
              "server": {"workers": args.workers, "queue": args.queue}, "requests": len(rows),
              "requests_per_s": len(rows) / measured, "statuses": dict(sorted(statuses.items())),
              "failures": failures, "memory_mb": memory, "memory_growth": growth, "alive_after": alive,
              "latency_ms": {k: {"n": len(v), "p50": percentile(v, 50), "p95": percentile(v, 95),
                                 "p99": percentile(v, 99)} for k, v in sorted(by_kind.items())},
              "total_s": round(time.perf_counter() - begin, 1), "cpus": os.cpu_count()}
    lines = [f"# pixelsmith serve under load ({args.clients} clients, {measured:.0f} s measured after "
             f"{args.warmup:g} s of warm-up)", "",
             f"Server: `--workers {args.workers} --queue {args.queue}`, loopback, {os.cpu_count()} CPUs. "
             f"Command: `python benchmarks/serve_load.py --clients {args.clients} --warmup {args.warmup:g} "
             f"--seconds {args.seconds:g}`.", "",
             f"- requests: {len(rows)} ({len(rows) / measured:.1f}/s); statuses: "
             + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())),
             f"- failures (no answer, or a 5xx other than the deliberate 503): {failures}; the server answered "
             f"/healthz afterwards: {alive}",
             f"- resident memory (MB): start {memory['start']:.0f}, after warm-up {memory['after_warmup']:.0f}, "
             f"peak {memory['peak']:.0f}, end {memory['end']:.0f} ({growth:+.1%} since the warm-up)", "",
             "| request | n | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|"]
    for kind, s in result["latency_ms"].items():
        lines.append(f"| {kind} | {s['n']} | {s['p50']:.0f} | {s['p95']:.0f} | {s['p99']:.0f} |")
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    if failures or not alive:
        sys.exit(1)


if __name__ == "__main__":
    main()
