"""The progress protocol: events reach the callback from every long job, and raising Cancelled in it stops the
job at that event with nothing half-written."""

import pytest
import torch
from PIL import Image

from pixelsmith import Cancelled
from pixelsmith import degradations as D
from pixelsmith.io import read_image
from pixelsmith.pipelines.deblur import deblur
from pixelsmith.pipelines.generate import generate
from pixelsmith.pipelines.restore import RestoreOptions, restore_files
from pixelsmith.pipelines.tiling import run_tiled
from pixelsmith.progress import Event, report


class Recorder:
    """Keeps every event; raises Cancelled at the ``stop_at``-th event of ``stage``."""

    def __init__(self, stage: str | None = None, stop_at: int = 0):
        self.events, self.stage, self.stop_at = [], stage, stop_at

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if event.stage == self.stage and event.done == self.stop_at:
            raise Cancelled(f"stopped at {self.stage} {self.stop_at}")

    def of(self, stage: str) -> list[Event]:
        return [e for e in self.events if e.stage == stage]


def no_temp_files(folder):
    return not [p for p in folder.rglob("*") if p.name.startswith(".")]


def test_report_sends_one_event_and_ignores_no_callback():
    report(None, "steps", 1, 2)  # no callback: nothing happens
    seen = Recorder()
    report(seen, "steps", 1, 2, "grid", loss=0.5)
    assert seen.events == [Event("steps", 1, 2, "grid", {"loss": 0.5})]


@pytest.fixture
def noisy_folder(tmp_path, camera):
    folder = tmp_path / "noisy"
    folder.mkdir()
    for i in range(3):
        crop = camera[:, 64 * i:64 * i + 64, 100:164]
        noisy = D.add_gaussian_noise(crop, 25, torch.Generator().manual_seed(i), clip=True, quantize=True)
        Image.fromarray((noisy[0] * 255).round().byte().numpy()).save(folder / f"{i}.png")
    return folder


def test_folder_restore_reports_each_file(noisy_folder, tmp_path):
    seen = Recorder()
    result = restore_files(noisy_folder, tmp_path / "out", RestoreOptions(sigma=25, ensemble=False), progress=seen)
    assert [(e.done, e.total) for e in seen.of("files")] == [(1, 3), (2, 3), (3, 3)]
    assert len(result.written) == 3


def test_cancelled_folder_restore_keeps_finished_files_whole_and_writes_nothing_else(noisy_folder, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(Cancelled):
        restore_files(noisy_folder, out, RestoreOptions(sigma=25, ensemble=False), progress=Recorder("files", 2))
    written = sorted(p.name for p in out.iterdir())
    assert written == ["0.png", "1.png"]  # the third file was never started
    assert read_image(out / "1.png").size == (64, 64)  # complete, readable
    assert no_temp_files(out)


def test_plug_and_play_deblur_reports_iterations_and_stops_when_cancelled(camera):
    x = D.blur(camera[:, :96, :96], D.gaussian_kernel(1.6), "reflect")
    seen = Recorder()
    deblur(x, D.gaussian_kernel(1.6), sigma=1.0, iterations=5, progress=seen)
    assert [e.done for e in seen.of("iterations")] == [1, 2, 3, 4, 5]
    stop = Recorder("iterations", 2)
    with pytest.raises(Cancelled):
        deblur(x, D.gaussian_kernel(1.6), sigma=1.0, iterations=5, progress=stop)
    assert [e.done for e in stop.of("iterations")] == [1, 2]  # stopped at the event that raised


def test_cancelled_file_restore_leaves_no_output(tmp_path, camera):
    source = tmp_path / "blurred.png"
    blurred = D.blur(camera[:, :96, :96], D.gaussian_kernel(1.6), "reflect")
    Image.fromarray((blurred[0] * 255).round().byte().numpy()).save(source)
    with pytest.raises(Cancelled):
        restore_files(source, tmp_path / "sharp.png", RestoreOptions(task="deblur", kernel="gaussian:1.6", sigma=1),
                      progress=Recorder("iterations", 3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blurred.png"]


def test_tiles_are_reported_and_cancel_stops_between_tiles():
    x = torch.rand(1, 1, 300, 300)
    seen = Recorder()
    run_tiled(lambda t: t * 2, x, tile=128, overlap=16, progress=seen)
    tiles = seen.of("tiles")
    assert [e.done for e in tiles] == list(range(1, tiles[0].total + 1)) and tiles[0].total == 9
    calls = []
    with pytest.raises(Cancelled):
        run_tiled(lambda t: calls.append(1) or t, x, tile=128, overlap=16, progress=Recorder("tiles", 4))
    assert len(calls) == 4


def test_deep_image_prior_reports_and_cancels():
    from pixelsmith.dip import deep_image_prior

    y = torch.rand(1, 32, 32)
    with pytest.raises(Cancelled):
        deep_image_prior(y, sigma=25, iterations=50, progress=Recorder("iterations", 3))
    seen = Recorder()
    deep_image_prior(y, sigma=25, iterations=4, progress=seen)
    assert [e.done for e in seen.of("iterations")] == [1, 2, 3, 4] and "mse" in seen.of("iterations")[0].info


def test_sampling_reports_batches_and_cancels():
    seen = Recorder()
    images = generate("dcgan-mnist", 10, seed=0, batch_size=4, progress=seen)
    assert images.shape == (10, 1, 28, 28)
    assert [(e.done, e.total) for e in seen.of("samples")] == [(4, 10), (8, 10), (10, 10)]
    with pytest.raises(Cancelled):
        generate("dcgan-mnist", 10, seed=0, batch_size=4, progress=Recorder("samples", 8))
