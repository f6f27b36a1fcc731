"""Shared by the benchmark scripts: merge a run's rows into the saved results file."""

from __future__ import annotations

import json
from pathlib import Path


def merge_rows(saved: Path, rows: list[dict], done: set[str], order: list[str], kept: set[str] = frozenset()
               ) -> list[dict]:
    """The saved rows (``saved`` is a JSON file with a "rows" list) of tasks not in ``done``, plus ``rows``,
    sorted by the position of each row's task in ``order``: a run of some tasks replaces those tasks' rows. Saved
    rows of a done task whose method is in ``kept`` (left out of this run) stay, after the new rows of their setting."""
    previous = json.loads(saved.read_text())["rows"] if saved.is_file() else []
    merged = [r for r in previous if r["task"] not in done]
    for i, row in enumerate(rows):
        merged.append(row)
        if i + 1 == len(rows) or (rows[i + 1]["task"], rows[i + 1]["setting"]) != (row["task"], row["setting"]):
            merged += [r for r in previous if r["task"] == row["task"] and r["setting"] == row["setting"]
                       and r["method"] in kept]
    return sorted(merged, key=lambda r: order.index(r["task"]))
