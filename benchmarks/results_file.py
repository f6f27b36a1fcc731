"""Shared by the benchmark scripts: merge a run's rows into the saved results file."""

from __future__ import annotations

import json
from pathlib import Path


def merge_rows(saved: Path, rows: list[dict], done: set[str], order: list[str]) -> list[dict]:
    """The saved rows (``saved`` is a JSON file with a "rows" list) of tasks not in ``done``, plus ``rows``,
    sorted by the position of each row's task in ``order``: a run of some tasks replaces those tasks' rows."""
    previous = json.loads(saved.read_text())["rows"] if saved.is_file() else []
    merged = [r for r in previous if r["task"] not in done] + rows
    return sorted(merged, key=lambda r: order.index(r["task"]))
