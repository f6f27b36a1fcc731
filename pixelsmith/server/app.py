"""The HTTP API and the web page (``pixelsmith serve``): FastAPI, thin over the same pipelines and model store as
the CLI. Quick calls (``POST /v1/restore``, ``POST /v1/generate``) and jobs (``POST /v1/jobs``) both run in the
bounded worker pool of :mod:`pixelsmith.server.jobs`; every error is a 4xx JSON body ``{"error", "field"}`` and
no traceback reaches a client. Paths never come from a request: uploads are saved under names the server makes,
and models are named from the bundled ones only."""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from pixelsmith import __version__
from pixelsmith.errors import PixelsmithError
from pixelsmith.probe import DEFAULT_MAX_PIXELS
from pixelsmith.server.guards import BodyLimit, SameOrigin
from pixelsmith.server.jobs import FINISHED, JobQueue, QueueFull, Result

OUTPUT_FORMATS = {"png": ("png", "image/png"), "jpg": ("jpg", "image/jpeg"), "jpeg": ("jpg", "image/jpeg"),
                  "webp": ("webp", "image/webp"), "tiff": ("tiff", "image/tiff"), "bmp": ("bmp", "image/bmp")}
MAX_SAMPLES = 256  # images per generation request
FIELD = re.compile(r"^(?:--)?(\w+)[= ]")


@dataclass
class Settings:
    """What ``pixelsmith serve`` can change."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_body: int = 100 * 2 ** 20  # bytes of one request body
    max_pixels: int = DEFAULT_MAX_PIXELS  # decoded pixels of one uploaded image
    workers: int = 1
    max_queued: int = 8
    time_limit: float = 600  # seconds one job may run
    expire: float = 600  # seconds a finished job and its result are kept


class ApiError(Exception):
    """A client error: ``status``, a message that says what was wrong and what is accepted, and the field."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.status = field, status


def _error(status: int, message: str, field: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status, headers=headers)


# ---- reading uploads ------------------------------------------------------------------------------------------
def _save_upload(upload: UploadFile, folder: Path) -> Path:
    """The upload's bytes in a file of ``folder`` under a name the server makes (the client's name is not used)."""
    path = folder / f"upload-{uuid.uuid4().hex}"
    with path.open("wb") as f:
        while chunk := upload.file.read(2 ** 20):
            f.write(chunk)
    return path


def _read_upload(upload: UploadFile, field: str, folder: Path, max_pixels: int, channels: int | None = None):
    """An uploaded image decoded into ImageData; 413 for too many pixels (from the header, before decoding), 400
    for anything that does not decode as an image. Error messages name the field, never the server's file."""
    from pixelsmith.io import read_image
    from pixelsmith.probe import probe

    path = _save_upload(upload, folder)
    try:
        try:
            header = probe(path, max_pixels=2 ** 62)
        except PixelsmithError as exc:
            raise ApiError(str(exc).replace(str(path), field), field) from None
        if header.width * header.height > max_pixels:
            raise ApiError(f"{field}: {header.width}x{header.height} = {header.width * header.height} pixels exceeds "
                           f"the server's limit of {max_pixels}", field, 413)
        try:
            image = read_image(path, channels=channels, max_pixels=max_pixels)
        except PixelsmithError as exc:
            raise ApiError(str(exc).replace(str(path), field), field) from None
        image.path = ""
        return image
    finally:
        path.unlink(missing_ok=True)


def _encode(image, fmt: str, folder: Path) -> Result:
    """``image`` (ImageData) as the bytes of ``fmt``, with its alpha, bit depth, EXIF and colour profile; the
    image itself rides along as the master, so it can be encoded again in another format."""
    from pixelsmith.io import write_image_data

    ext, media = OUTPUT_FORMATS[fmt]
    path = folder / f"out-{uuid.uuid4().hex}.{ext}"
    try:
        write_image_data(path, image)
        return Result(path.read_bytes(), media, f"restored.{ext}", master=image)
    finally:
        path.unlink(missing_ok=True)


def _check_format(fmt: str, allowed=OUTPUT_FORMATS) -> str:
    fmt = fmt.lower().lstrip(".")
    if fmt not in allowed:
        raise ApiError(f"format={fmt} is not known; accepted: {', '.join(allowed)}", "format")
    return fmt


def _check_model(name: str | None, family: str) -> str | None:
    """A bundled model's name (never a path from a request)."""
    from pixelsmith.catalog import list_bundled, read_config

    if name is None or name == "":
        return None
    names = [n for n in list_bundled() if read_config(n).get("family") == family]
    if name not in names:
        raise ApiError(f"model={name} is not a bundled {family} model; accepted: {', '.join(names)}", "model")
    return name


# ---- the app --------------------------------------------------------------------------------------------------
def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI application with its job queue (``app.state.jobs``)."""
    settings = settings or Settings()
    app = FastAPI(title="pixelsmith", version=__version__,
                  description="Image restoration and generation. Every call the web page makes is here.")
    jobs = JobQueue(settings.workers, settings.max_queued, settings.time_limit, settings.expire)
    uploads = jobs.folder / "uploads"
    uploads.mkdir()
    app.state.jobs, app.state.settings = jobs, settings
    app.add_middleware(BodyLimit, max_body=settings.max_body)
    app.add_middleware(SameOrigin, host=settings.host, port=settings.port)
    app.router.add_event_handler("shutdown", jobs.close)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _error(exc.status, str(exc), exc.field)

    @app.exception_handler(PixelsmithError)
    async def pixelsmith_error(request: Request, exc: PixelsmithError):
        match = FIELD.match(str(exc))
        return _error(400, str(exc).replace(str(jobs.folder), "<server>"), match.group(1) if match else None)

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, exc: QueueFull):
        return _error(503, f"the server is busy: {settings.max_queued} jobs are waiting; retry later", None,
                      {"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        field = str(first["loc"][-1]) if first.get("loc") else None
        return _error(422, f"{field}: {first['msg']}", field)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail), None, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        import logging

        logging.getLogger("pixelsmith.server").exception("request failed")
        return _error(500, "internal error (the server log has the details)")

    # ---- pages and listings ---------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return (files("pixelsmith.server") / "static" / "index.html").read_text(encoding="utf-8")

    @app.get("/healthz")
    def healthz() -> dict:
        """Liveness: the version and how many jobs are queued and running."""
        states = [j.state for j in list(jobs.jobs.values())]
        return {"status": "ok", "version": __version__, "queued": states.count("queued"),
                "running": states.count("running")}

    @app.get("/v1/models")
    def models() -> dict:
        """The restoration tasks (methods and parameters) and every bundled model with the options it takes."""
        from pixelsmith.server.listing import catalogue

        return catalogue()

    # ---- restoration ----------------------------------------------------------------------------------------
    def restore_job(image: UploadFile, mask: UploadFile | None, task: str, sigma: float | None, scale: int,
                    quality: int | None, kernel: str | None, method: str, model: str | None, fmt: str,
                    iterations: int | None):
        """Check everything and decode the uploads now (a bad request fails at once), then return the work."""
        from pixelsmith.pipelines.restore import RestoreOptions, check_options, restore_image

        fmt = _check_format(fmt)
        if kernel is not None and not kernel.startswith(("gaussian:", "motion:")):
            raise ApiError(f"kernel={kernel} is not accepted here; accepted: gaussian:SIGMA or motion:LENGTH:ANGLE "
                           f"(kernel images are read from files, which the server does not take)", "kernel")
        restores = "generate" if (task == "inpaint" and method == "diffusion") else "restore"
        opts = RestoreOptions(task=task, method=method, sigma=sigma, scale=scale, kernel=kernel, quality=quality,
                              iterations=iterations, model=_check_model(model, restores), format=fmt,
                              max_pixels=settings.max_pixels)
        check_options(opts)
        data = _read_upload(image, "image", uploads, settings.max_pixels)
        hole = None
        if mask is not None:
            m = _read_upload(mask, "mask", uploads, settings.max_pixels, channels=1)
            if m.size != data.size:
                raise ApiError(f"mask is {m.size[1]}x{m.size[0]} but the image is {data.size[1]}x{data.size[0]}; "
                               f"the mask must match the image", "mask")
            hole = m.pixels
        elif task == "inpaint" and data.alpha is None:
            raise ApiError("inpaint needs a mask (white = missing) or an image whose missing pixels are "
                           "transparent", "mask")

        def work(progress) -> Result:
            return _encode(restore_image(data, opts, progress, mask=hole), fmt, jobs.folder)

        return work

    RESTORE_FORM = dict(task=Form("denoise"), sigma=Form(None), scale=Form(2), quality=Form(None), kernel=Form(None),
                        method=Form("model"), model=Form(None), format=Form("png"), iterations=Form(None))

    def wait(job) -> Response:
        """The job's result once it has finished (the request waits as long as the job's time limit)."""
        job.done.wait(settings.time_limit + 60)
        if job.state != "done":
            raise ApiError(job.error or "the job did not finish", None, 400 if job.state == "failed" else 409)
        return result_response(job)

    @app.post("/v1/restore", responses={200: {"content": {"image/png": {}}}})
    def restore(image: UploadFile = File(...), mask: UploadFile | None = File(None),
                task: str = RESTORE_FORM["task"], sigma: float | None = RESTORE_FORM["sigma"],
                scale: int = RESTORE_FORM["scale"], quality: int | None = RESTORE_FORM["quality"],
                kernel: str | None = RESTORE_FORM["kernel"], method: str = RESTORE_FORM["method"],
                model: str | None = RESTORE_FORM["model"], format: str = RESTORE_FORM["format"],
                iterations: int | None = RESTORE_FORM["iterations"]) -> Response:
        """Restore one image and answer with it (PNG by default). Parameters take the CLI's names."""
        work = restore_job(image, mask, task, sigma, scale, quality, kernel, method, model, format, iterations)
        return wait(jobs.submit("restore", work))

    # ---- generation -----------------------------------------------------------------------------------------
    def generate_job(model: str, n: int, seed: int, label: int | None, steps: int | None, guidance: float | None,
                     sampler: str | None, fmt: str):
        from pixelsmith.models.generative import check_sample_options
        from pixelsmith.pipelines.generate import generate, load_generator, make_grid
        from pixelsmith.io import write_image

        name = _check_model(model, "generate")
        if name is None:
            raise ApiError("model is required: a bundled generator (see /v1/models)", "model")
        if not 1 <= n <= MAX_SAMPLES:
            raise ApiError(f"n={n} is out of range; accepted: 1 to {MAX_SAMPLES}", "n")
        fmt = _check_format(fmt, ("png", "zip"))
        net = load_generator(name)
        options = {k: v for k, v in (("label", label), ("steps", steps), ("guidance", guidance),
                                     ("sampler", sampler)) if v is not None}
        options = check_sample_options(net, options)

        def work(progress) -> Result:
            images = generate(net, n, seed=seed, progress=progress, **options)
            if fmt == "png":
                path = jobs.folder / f"grid-{uuid.uuid4().hex}.png"
                write_image(path, make_grid(images))
                data = path.read_bytes()
                path.unlink()
                return Result(data, "image/png", f"{name}-seed{seed}.png")
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as z:
                for i, image in enumerate(images):
                    path = jobs.folder / f"sample-{uuid.uuid4().hex}.png"
                    write_image(path, image)
                    z.write(path, f"{i:06d}.png")
                    path.unlink()
            return Result(buffer.getvalue(), "application/zip", f"{name}-seed{seed}.zip")

        return work

    GEN_FORM = dict(model=Form(...), n=Form(16), seed=Form(0), label=Form(None, alias="class"), steps=Form(None),
                    guidance=Form(None), sampler=Form(None), format=Form("png"))

    @app.post("/v1/generate", responses={200: {"content": {"image/png": {}, "application/zip": {}}}})
    def generate(model: str = GEN_FORM["model"], n: int = GEN_FORM["n"], seed: int = GEN_FORM["seed"],
                 label: int | None = GEN_FORM["label"], steps: int | None = GEN_FORM["steps"],
                 guidance: float | None = GEN_FORM["guidance"], sampler: str | None = GEN_FORM["sampler"],
                 format: str = GEN_FORM["format"]) -> Response:
        """``n`` samples of a bundled generator as one PNG grid (``format=png``) or a zip of PNG files."""
        return wait(jobs.submit("generate", generate_job(model, n, seed, label, steps, guidance, sampler, format)))

    # ---- jobs -----------------------------------------------------------------------------------------------
    @app.post("/v1/jobs", status_code=202)
    def submit(kind: str = Form("restore"), image: UploadFile | None = File(None), mask: UploadFile | None = File(None),
               task: str = RESTORE_FORM["task"], sigma: float | None = RESTORE_FORM["sigma"],
               scale: int = RESTORE_FORM["scale"], quality: int | None = RESTORE_FORM["quality"],
               kernel: str | None = RESTORE_FORM["kernel"], method: str = RESTORE_FORM["method"],
               model: str | None = RESTORE_FORM["model"], format: str = RESTORE_FORM["format"],
               iterations: int | None = RESTORE_FORM["iterations"], n: int = GEN_FORM["n"],
               seed: int = GEN_FORM["seed"], label: int | None = GEN_FORM["label"],
               steps: int | None = GEN_FORM["steps"], guidance: float | None = GEN_FORM["guidance"],
               sampler: str | None = GEN_FORM["sampler"]) -> JSONResponse:
        """Start a restoration (``kind=restore``, the fields of /v1/restore) or a generation (``kind=generate``,
        the fields of /v1/generate); answers 202 with the job's status, then poll, stream or cancel it."""
        if kind == "restore":
            if image is None:
                raise ApiError("image is required for kind=restore", "image")
            work = restore_job(image, mask, task, sigma, scale, quality, kernel, method, model, format, iterations)
        elif kind == "generate":
            work = generate_job(model or "", n, seed, label, steps, guidance, sampler, format)
        else:
            raise ApiError(f"kind={kind} is not known; accepted: restore, generate", "kind")
        job = jobs.submit(kind, work)
        return JSONResponse(jobs.status(job), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})

    def lookup(job_id: str):
        job = jobs.get(job_id)
        if job is None:
            raise ApiError(f"no job {job_id[:40]} (unknown, or expired after {settings.expire:g} s)", "id", 404)
        return job

    def result_response(job, fmt: str | None = None) -> Response:
        """The job's file; with ``fmt``, a restoration's kept image encoded again in that format."""
        data, media, filename = None, job.media_type, job.filename
        if fmt is None:
            data = jobs.result_path(job).read_bytes()
        else:
            fmt, master = _check_format(fmt), jobs.master_path(job)
            if not master.is_file():
                raise ApiError(f"format={fmt}: only a restoration's result can be fetched in another format; this "
                               f"job made {job.media_type}", "format")
            import torch

            again = _encode(torch.load(master, weights_only=False), fmt, jobs.folder)  # the server's own file
            data, media, filename = again.data, again.media_type, again.filename
        return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @app.get("/v1/jobs/{job_id}")
    def status(job_id: str) -> dict:
        """State (queued, running, done, failed, cancelled), progress 0-1, queue position and ETA in seconds."""
        return jobs.status(lookup(job_id))

    @app.get("/v1/jobs/{job_id}/events")
    async def events(job_id: str) -> StreamingResponse:
        """The job's status as Server-Sent Events, one each time it changes, until it has finished."""
        job = lookup(job_id)

        async def stream():
            last = None
            while True:
                now = jobs.status(job)
                key = (now["state"], now["progress"], now["queue_position"])
                if key != last:
                    yield f"data: {json.dumps(now)}\n\n"
                    last = key
                if now["state"] in FINISHED:
                    return
                await asyncio.sleep(0.2)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/v1/jobs/{job_id}/result")
    def result(job_id: str, format: str | None = None) -> Response:
        """The finished job's image (or grid, or zip); a restoration's image again in another ``format``."""
        job = lookup(job_id)
        if job.state != "done":
            raise ApiError(f"job {job.id} is {job.state}" + (f": {job.error}" if job.error else "")
                           + "; the result exists once it is done", "id", 409)
        return result_response(job, format)

    @app.delete("/v1/jobs/{job_id}")
    def cancel(job_id: str) -> dict:
        """Cancel a queued or running job (a running one stops at its next progress event)."""
        job = lookup(job_id)
        jobs.cancel(job)
        return jobs.status(job)

    return app
