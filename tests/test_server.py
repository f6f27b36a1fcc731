"""The HTTP API (pixelsmith.server) through FastAPI's TestClient: every endpoint, and the bad requests a server
on a user's machine meets (not an image, truncated, too large, a pixel bomb, a wrong mask, bad parameters, an
unknown model, another origin, a cancelled job, a full queue), each a 4xx JSON answer while the server keeps
serving."""

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from fastapi.testclient import TestClient

from pixelsmith.progress import Event
from pixelsmith.server.app import Settings, create_app

BASE = "http://127.0.0.1:8000"


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def client():
    app = create_app(Settings(max_body=2 ** 20, max_pixels=200_000, max_queued=2))
    with TestClient(app, base_url=BASE) as c:
        yield c


def noisy(h=48, w=40):
    return (np.random.default_rng(0).random((h, w)) * 255).astype(np.uint8)


def test_health_and_models(client):
    assert client.get("/healthz").json()["status"] == "ok"
    listing = client.get("/v1/models").json()
    assert set(listing["tasks"]) == {"denoise", "inpaint", "sr", "deblur", "jpeg"}
    assert "diffusion" in listing["tasks"]["inpaint"]["methods"]
    models = {m["name"]: m for m in listing["models"]}
    assert models["resunet-denoise-gray"]["task"] == "denoise"
    assert models["cgan-mnist"]["num_classes"] == 10 and models["cgan-mnist"]["size_bytes"] > 0
    assert {"label", "temperature"} <= {o["name"] for o in models["cgan-mnist"]["options"]}
    assert client.get("/").text.startswith("<!doctype html>")


def test_restore_answers_the_image_in_the_asked_format(client):
    r = client.post("/v1/restore", files={"image": ("a.png", png(noisy()))}, data={"sigma": "25", "format": "webp"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(r.content)).size == (40, 48)


def test_inpaint_keeps_the_known_pixels(client):
    image, mask = noisy(), np.zeros((48, 40), np.uint8)
    mask[10:20, 10:20] = 255
    r = client.post("/v1/restore", files={"image": ("a.png", png(image)), "mask": ("m.png", png(mask))},
                    data={"task": "inpaint", "method": "telea"})
    out = np.asarray(Image.open(io.BytesIO(r.content)))
    assert r.status_code == 200 and np.array_equal(out[mask == 0], image[mask == 0])


@pytest.mark.parametrize("files,data,status,field", [
    ({"image": ("a.png", b"not an image")}, {}, 400, "image"),
    ({"image": ("a.png", png(noisy())[:200])}, {}, 400, "image"),
    ({"image": ("a.png", png(np.zeros((600, 600), np.uint8)))}, {}, 413, "image"),
    ({"image": ("a.png", png(noisy())), "mask": ("m.png", png(np.zeros((10, 10), np.uint8)))},
     {"task": "inpaint"}, 400, "mask"),
    ({"image": ("a.png", png(noisy()))}, {"task": "paint"}, 400, "task"),
    ({"image": ("a.png", png(noisy()))}, {"sigma": "-3"}, 400, "sigma"),
    ({"image": ("a.png", png(noisy()))}, {"sigma": "lots"}, 422, "sigma"),
    ({"image": ("a.png", png(noisy()))}, {"model": "../../etc"}, 400, "model"),
    ({"image": ("a.png", png(noisy()))}, {"task": "deblur", "kernel": "/etc/passwd"}, 400, "kernel"),
    ({"image": ("a.png", png(noisy()))}, {"format": "gif"}, 400, "format"),
    ({}, {}, 422, "image"),
])
def test_bad_requests_get_a_clear_json_4xx(client, files, data, status, field):
    r = client.post("/v1/restore", files=files, data=data)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["field"] == field and body["error"] and "Traceback" not in body["error"]
    assert "/tmp" not in body["error"]  # no server path reaches the client
    assert client.get("/healthz").status_code == 200  # and the server keeps serving


def test_an_oversized_body_is_refused_with_413(client):
    r = client.post("/v1/restore", files={"image": ("a.png", b"0" * (2 ** 20 + 10))})
    assert r.status_code == 413 and r.json()["field"] == "body"


@pytest.mark.parametrize("headers,status", [({"Origin": "http://evil.example"}, 403), ({"Origin": "null"}, 403),
                                            ({"Host": "evil.example"}, 421), ({"Origin": BASE}, 200)])
def test_other_origins_and_hosts_are_refused(client, headers, status):
    assert client.get("/healthz", headers=headers).status_code == status


def test_a_generation_job_runs_streams_and_gives_its_grid(client):
    r = client.post("/v1/jobs", data={"kind": "generate", "model": "cgan-mnist", "n": "4", "class": "3"})
    assert r.status_code == 202
    job = r.json()["id"]
    with client.stream("GET", f"/v1/jobs/{job}/events") as stream:
        events = [line for line in stream.iter_lines() if line.startswith("data:")]
    assert '"state": "done"' in events[-1]
    status = client.get(f"/v1/jobs/{job}").json()
    assert status["state"] == "done" and status["progress"] == 1.0
    grid = client.get(f"/v1/jobs/{job}/result")
    assert grid.headers["content-type"] == "image/png" and Image.open(io.BytesIO(grid.content)).width > 28
    assert client.get("/v1/jobs/0123/result").status_code == 404
    r = client.post("/v1/generate", data={"model": "cgan-mnist", "n": "3", "format": "zip"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    r = client.post("/v1/generate", data={"model": "cgan-mnist", "n": "3", "class": "12"})
    assert r.status_code == 400 and "out of range" in r.json()["error"]


def test_jobs_can_be_cancelled_and_a_full_queue_answers_503():
    app = create_app(Settings(max_queued=1))
    gate = threading.Event()
    jobs = app.state.jobs

    def blocked(progress):  # waits, then reports progress: the cancel takes effect there
        gate.wait(10)
        progress(Event("steps", 1, 2))

    with TestClient(app, base_url=BASE) as client:
        running = jobs.submit("restore", blocked)
        time.sleep(0.2)
        queued = client.post("/v1/jobs", data={"kind": "generate", "model": "cgan-mnist", "n": "2"})
        assert queued.status_code == 202
        full = client.post("/v1/jobs", data={"kind": "generate", "model": "cgan-mnist", "n": "2"})
        assert full.status_code == 503 and full.headers["Retry-After"] == "5"
        assert client.delete(f"/v1/jobs/{queued.json()['id']}").json()["state"] == "cancelled"
        client.delete(f"/v1/jobs/{running.id}")
        gate.set()
        running.done.wait(10)
        assert running.state == "cancelled"
        r = client.get(f"/v1/jobs/{running.id}/result")
        assert r.status_code == 409 and "cancelled" in r.json()["error"]


def tagged_png(array: np.ndarray) -> tuple[bytes, bytes]:
    """A PNG with an EXIF orientation (rotate 90 degrees), an artist tag and an sRGB ICC profile."""
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x0112], exif[0x013B] = 6, "pixelsmith test"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", exif=exif.tobytes(), icc_profile=icc)
    return buffer.getvalue(), icc


def test_metadata_is_kept_and_the_result_can_be_fetched_in_another_format(client):
    data, icc = tagged_png(noisy(48, 40))
    job = client.post("/v1/jobs", data={"kind": "restore", "sigma": "25"}, files={"image": ("a.png", data)}).json()
    assert app_wait(client, job["id"])["state"] == "done"
    for fmt, media in [(None, "image/png"), ("jpg", "image/jpeg"), ("tiff", "image/tiff")]:
        r = client.get(f"/v1/jobs/{job['id']}/result", params={"format": fmt} if fmt else {})
        assert r.status_code == 200 and r.headers["content-type"] == media
        out = Image.open(io.BytesIO(r.content))
        assert out.size == (48, 40)  # the orientation was applied: 40 wide, 48 high became 48 x 40
        assert out.info.get("icc_profile") == icc
        assert out.getexif()[0x013B] == "pixelsmith test" and out.getexif().get(0x0112, 1) == 1
    r = client.get(f"/v1/jobs/{job['id']}/result", params={"format": "gif"})
    assert r.status_code == 400 and r.json()["field"] == "format"
    grid = client.post("/v1/jobs", data={"kind": "generate", "model": "cgan-mnist", "n": "2"}).json()
    assert app_wait(client, grid["id"])["state"] == "done"
    r = client.get(f"/v1/jobs/{grid['id']}/result", params={"format": "jpg"})
    assert r.status_code == 400 and "only a restoration" in r.json()["error"]


def test_16_bit_and_alpha_come_back_as_they_went_in(client):
    rng = np.random.default_rng(1)
    deep = (rng.random((40, 32)) * 65535).astype(np.uint16)
    r = client.post("/v1/restore", files={"image": ("a.png", png(deep))}, data={"sigma": "15"})
    out = np.asarray(Image.open(io.BytesIO(r.content)))
    assert r.status_code == 200 and out.dtype == np.uint16 and len(np.unique(out)) > 256
    rgba = np.dstack([noisy(40, 32)] * 3 + [np.linspace(0, 255, 32 * 40).reshape(40, 32).astype(np.uint8)])
    r = client.post("/v1/restore", files={"image": ("a.png", png(rgba))}, data={"sigma": "15"})
    out = np.asarray(Image.open(io.BytesIO(r.content)))
    assert out.shape == (40, 32, 4) and np.array_equal(out[..., 3], rgba[..., 3])


def app_wait(client, job_id: str) -> dict:
    for _ in range(600):
        status = client.get(f"/v1/jobs/{job_id}").json()
        if status["state"] in ("done", "failed", "cancelled"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")
