"""One progress protocol for every long job: the work calls ``progress(Event(...))`` as it goes; the callback
shows it (a CLI bar, a server's job status, a test's list) and may raise :class:`Cancelled` to stop the work
at that event. The library itself prints nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pixelsmith.errors import Cancelled

__all__ = ["Cancelled", "Event", "Progress", "report"]


@dataclass(frozen=True)
class Event:
    """``done`` of ``total`` units of ``stage`` ('files', 'tiles', 'iterations', 'samples', 'steps', ...) are
    finished; ``preview`` is an optional image (C,H,W) in [0, 1]; ``info`` holds figures such as losses."""

    stage: str
    done: int
    total: int
    preview: Any = None
    info: dict[str, float] = field(default_factory=dict)


Progress = Optional[Callable[[Event], None]]


def report(progress: Progress, stage: str, done: int, total: int, preview: Any = None, **info: float) -> None:
    """Send one event to ``progress`` when there is a callback; a :class:`Cancelled` it raises propagates."""
    if progress is not None:
        progress(Event(stage, done, total, preview, info))
