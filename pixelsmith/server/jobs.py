"""Jobs for the HTTP server: a bounded pool of worker threads fed by a bounded queue. A job is a function of a
progress callback that returns the result's bytes; the callback records progress and raises Cancelled when the
job was cancelled or ran past its time limit (the progress protocol of :mod:`pixelsmith.progress`). Results
live in files of the server's own folder, named by job id, and are removed when the job expires."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from pixelsmith.errors import Cancelled, PixelsmithError
from pixelsmith.progress import Event

log = logging.getLogger("pixelsmith.server")
STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")


class QueueFull(Exception):
    """Every worker is busy and the queue holds as many jobs as it may."""


@dataclass
class Result:
    """What a job made: its bytes, their media type and a file name for downloads; for a restoration, the
    restored image itself (``master``), kept so the result can be fetched again in another format."""

    data: bytes
    media_type: str
    filename: str
    master: object = None


@dataclass
class Job:
    id: str
    kind: str
    work: Callable[[Callable[[Event], None]], Result]
    created: float = field(default_factory=time.time)
    state: str = "queued"
    progress: float = 0.0
    stage: str = ""
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    media_type: str = ""
    filename: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)  # set once it has finished, however


class JobQueue:
    """``workers`` threads run jobs in the order they came; at most ``max_queued`` wait. A job running longer than
    ``time_limit`` seconds is stopped; finished jobs and their files are forgotten ``expire`` seconds after."""

    def __init__(self, workers: int = 1, max_queued: int = 8, time_limit: float = 600, expire: float = 600,
                 folder: str | Path | None = None) -> None:
        self.workers, self.max_queued, self.time_limit, self.expire = workers, max_queued, time_limit, expire
        self.folder = Path(folder or tempfile.mkdtemp(prefix="pixelsmith-server-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.jobs: dict[str, Job] = {}
        self.waiting: deque[Job] = deque()
        self.durations: deque[float] = deque(maxlen=20)
        self.lock = threading.Condition()
        self.closed = False
        self.threads = [threading.Thread(target=self._run, name=f"pixelsmith-worker-{i}", daemon=True)
                        for i in range(workers)]
        for t in self.threads:
            t.start()

    # ---- what the app asks ------------------------------------------------------------------------------
    def submit(self, kind: str, work: Callable[[Callable[[Event], None]], Result]) -> Job:
        """Queue ``work``; QueueFull when the queue is at its bound."""
        self.purge()
        with self.lock:
            if len(self.waiting) >= self.max_queued:
                raise QueueFull
            job = Job(uuid.uuid4().hex, kind, work)
            self.jobs[job.id] = job
            self.waiting.append(job)
            self.lock.notify()
        return job

    def get(self, job_id: str) -> Job | None:
        self.purge()
        return self.jobs.get(job_id)

    def cancel(self, job: Job) -> None:
        """Ask a job to stop: a queued job is dropped at once, a running one stops at its next progress event."""
        with self.lock:
            job.cancel.set()
            if job.state == "queued":
                self.waiting.remove(job)
                self._finish(job, "cancelled", "cancelled before it started")

    def position(self, job: Job) -> int:
        """0 while running or finished; k when k - 1 jobs wait before it."""
        with self.lock:
            return list(self.waiting).index(job) + 1 if job in self.waiting else 0

    def eta(self, job: Job) -> float | None:
        """Seconds until the job should be done: from its own rate while running, from recent jobs while queued."""
        now = time.time()
        if job.state == "running" and job.progress > 0.02:
            elapsed = now - job.started
            return elapsed * (1 - job.progress) / job.progress
        if job.state == "queued" and self.durations:
            mean = sum(self.durations) / len(self.durations)
            return mean * (self.position(job) / self.workers + 1)
        return 0.0 if job.state in FINISHED else None

    def result_path(self, job: Job) -> Path:
        return self.folder / job.id  # the job id is ours (a uuid), never a name from a request

    def master_path(self, job: Job) -> Path:
        return self.folder / f"{job.id}.master"

    def status(self, job: Job) -> dict:
        return {"id": job.id, "kind": job.kind, "state": job.state, "progress": round(job.progress, 4),
                "stage": job.stage, "queue_position": self.position(job), "eta_s": self.eta(job),
                "error": job.error, "created": job.created, "started": job.started, "finished": job.finished}

    def purge(self) -> None:
        """Forget finished jobs older than ``expire`` seconds and remove their files."""
        now = time.time()
        with self.lock:
            old = [j for j in self.jobs.values() if j.state in FINISHED and now - j.finished > self.expire]
            for job in old:
                del self.jobs[job.id]
                self.result_path(job).unlink(missing_ok=True)
                self.master_path(job).unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the workers (running jobs are cancelled) and remove the folder."""
        with self.lock:
            self.closed = True
            for job in self.jobs.values():
                job.cancel.set()
            self.lock.notify_all()
        for t in self.threads:
            t.join(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)

    # ---- the workers ------------------------------------------------------------------------------------
    def _finish(self, job: Job, state: str, error: str | None = None) -> None:
        job.state, job.error, job.finished = state, error, time.time()
        if state == "done":
            job.progress = 1.0
        job.done.set()

    def _progress(self, job: Job) -> Callable[[Event], None]:
        def callback(event: Event) -> None:
            if event.total:
                job.progress, job.stage = min(event.done / event.total, 1.0), event.stage
            if job.cancel.is_set():
                raise Cancelled("cancelled")
            if time.time() - job.started > self.time_limit:
                raise Cancelled(f"the job ran past the server's time limit of {self.time_limit:g} s")

        return callback

    def _run(self) -> None:
        while True:
            with self.lock:
                while not self.waiting and not self.closed:
                    self.lock.wait()
                if self.closed:
                    return
                job = self.waiting.popleft()
                job.state, job.started = "running", time.time()
            try:
                result = job.work(self._progress(job))
                path = self.result_path(job)
                path.write_bytes(result.data)
                if result.master is not None:
                    torch.save(result.master, self.master_path(job))
                job.media_type, job.filename = result.media_type, result.filename
                self._finish(job, "done")
                self.durations.append(job.finished - job.started)
            except Cancelled as exc:
                over = "time limit" in str(exc)
                self._finish(job, "failed" if over else "cancelled", str(exc) if over else "cancelled")
            except PixelsmithError as exc:
                self._finish(job, "failed", str(exc))
            except Exception:  # noqa: BLE001 - a bug: logged here, never sent to the client
                log.exception("job %s failed", job.id)
                self._finish(job, "failed", "internal error (the server log has the details)")
