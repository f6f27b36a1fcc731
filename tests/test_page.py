"""The web page in a real browser: Playwright drives Debian's Chromium against a real `pixelsmith serve` process.
One test restores (upload, paint a mask with the mouse, inpaint, follow the progress, move the before/after
slider, pan, download in two formats), one generates a gallery. Screenshots go to $PIXELSMITH_SCREENSHOTS when
set (to look at them), else to the test's temporary folder."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playwright.sync_api import expect, sync_playwright

SIZE = 160


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "pixelsmith", "serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if urllib.request.urlopen(f"{url}/healthz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("pixelsmith serve did not answer /healthz within 30 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    assert chromium, "the browser tests need Debian's chromium: apt-get install chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("PIXELSMITH_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def scratched(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A smooth gray picture with a white scratch along row 80, columns 30 to 130."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    image = (60 + 50 * np.sin(x / 17) + 40 * np.cos(y / 23)).astype(np.uint8)
    image[78:83, 30:130] = 255
    path = tmp_path / "scratched.png"
    Image.fromarray(image).save(path)
    return path, image


def test_paint_a_mask_inpaint_compare_and_download(server, browser, tmp_path, shots):
    path, image = scratched(tmp_path)
    page = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page.goto(server)
    page.select_option("#task", "inpaint")
    page.set_input_files("#file", str(path))
    expect(page.locator("#run")).to_be_enabled()
    mask = page.locator("#mask")
    expect(mask).to_be_visible()
    box = mask.bounding_box()
    assert abs(box["width"] - SIZE) < 1  # zoom 1: one canvas pixel per image pixel
    page.locator("#brush").evaluate("b => { b.value = 14; }")
    page.mouse.move(box["x"] + 28, box["y"] + 80)
    page.mouse.down()
    for step in range(1, 21):  # the stroke, as a user's drag
        page.mouse.move(box["x"] + 28 + step * 5.2, box["y"] + 80)
    page.mouse.up()
    painted = np.array(page.evaluate(
        "() => Array.from(document.getElementById('mask').getContext('2d')"
        ".getImageData(0, 0, 160, 160).data.filter((_, i) => i % 4 === 3))")).reshape(SIZE, SIZE) > 0
    assert painted[78:83, 30:130].all()  # the mask covers the scratch, where it was painted
    assert not painted[:60].any() and not painted[100:].any()
    page.screenshot(path=str(shots / "page-mask.png"))

    page.click("#run")
    expect(page.locator("#download")).to_be_visible(timeout=60_000)
    expect(page.locator("#restore-error")).to_have_text("")
    split = page.locator("#split")
    expect(split).to_be_enabled()
    split.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    assert split.input_value() == "70"
    wrap = page.locator("#after-wrap").bounding_box()
    assert abs(wrap["width"] - 0.7 * SIZE) < 2  # the result shows on the left 70 %
    page.screenshot(path=str(shots / "page-result.png"))

    with page.expect_download() as download:
        page.click("#download")
    restored = np.asarray(Image.open(download.value.path()).convert("L")).astype(int)
    assert restored.shape == (SIZE, SIZE)
    assert np.abs(restored[~painted] - image[~painted]).max() <= 1  # known pixels kept
    assert restored[80, 35:125].mean() < 200  # the scratch is gone
    assert np.abs(restored[80, 35:125] - image[70, 35:125]).mean() < 40  # filled with what surrounds it

    page.select_option("#save-format", "jpg")
    with page.expect_download() as again:
        page.click("#download")
    jpeg = Image.open(again.value.path())
    assert jpeg.format == "JPEG" and jpeg.size == (SIZE, SIZE)

    page.locator("#zoom").evaluate("z => { z.value = 8; z.dispatchEvent(new Event('input')); }")
    stage = page.locator("#stage").bounding_box()
    page.mouse.move(stage["x"] + 300, stage["y"] + 300)  # the mask is hidden after a run: a drag pans
    page.mouse.down()
    page.mouse.move(stage["x"] + 100, stage["y"] + 150, steps=5)
    page.mouse.up()
    assert page.evaluate("() => [document.getElementById('stage').scrollLeft, "
                         "document.getElementById('stage').scrollTop]") == [200, 150]
    page.close()


def test_generate_a_gallery_of_a_chosen_class(server, browser, shots):
    page = browser.new_page(viewport={"width": 390, "height": 844}, accept_downloads=True)  # a phone's width
    page.goto(server)
    page.click("#tab-generate")
    page.select_option("#gen-model", "cgan-mnist")
    expect(page.locator("#gen-class-label")).to_be_visible()
    page.select_option("#gen-class", "7")
    page.fill("#gen-n", "12")
    page.fill("#gen-seed", "3")
    page.click("#gen-run")
    gallery = page.locator("#gallery")
    expect(gallery).to_be_visible(timeout=60_000)
    assert gallery.evaluate("g => g.naturalWidth") > 28 * 3
    page.screenshot(path=str(shots / "page-gallery.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#gen-download")
    assert Image.open(download.value.path()).format == "PNG"

    page.fill("#gen-n", "999")  # out of range: the server's words are shown, nothing else breaks
    page.click("#gen-run")
    expect(page.locator("#gen-error")).to_contain_text("n=999 is out of range")
    page.close()
