"""``pixelsmith demo`` (pipelines.demo): every restoration task on the bundled sample photos and a grid of
generated digits, each restored picture better than its input by the PSNR it prints."""

import re

import pytest
from conftest import run_main

from pixelsmith.io import read_image
from pixelsmith.metrics import psnr

TASKS = ["deblur", "denoise", "denoise_color", "inpaint", "jpeg", "sr_x4"]


@pytest.mark.slow
@pytest.mark.cli
def test_demo_writes_pictures_and_prints_their_scores(tmp_path, capsys):
    code, out, err = run_main(capsys, "demo", "--out", tmp_path / "demo")
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert names == sorted([f"{t}_{n}.png" for t in TASKS for n in ("clean", "input", "restored")]
                           + ["dcgan_mnist_grid.png"])
    printed = {m[0]: (float(m[1]), float(m[2])) for m in re.findall(r"^(\w+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)}
    assert sorted(printed) == TASKS and "dB" in out and str(tmp_path / "demo") in out
    for task in TASKS:
        clean, restored = (read_image(tmp_path / "demo" / f"{task}_{n}.png").pixels for n in ("clean", "restored"))
        assert abs(psnr(restored, clean).item() - printed[task][1]) < 0.1, task  # what it prints is what it wrote
        assert printed[task][1] > printed[task][0] + 1, task
    for task, gain in (("denoise", 6), ("denoise_color", 4), ("deblur", 2)):
        clean, degraded = (read_image(tmp_path / "demo" / f"{task}_{n}.png").pixels for n in ("clean", "input"))
        assert printed[task][1] > psnr(degraded, clean).item() + gain, task
    assert read_image(tmp_path / "demo" / "sr_x4_restored.png").size == (512, 512)
    assert read_image(tmp_path / "demo" / "sr_x4_input.png").size == (128, 128)
    grid = read_image(tmp_path / "demo" / "dcgan_mnist_grid.png").pixels
    assert grid.shape[0] == 1 and grid.shape[1] > 8 * 28
