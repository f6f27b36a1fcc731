"""pixelsmith.probe: every input's header is checked (exists, an image, within the pixel limit, a still image)
before anything heavy happens, and without torch."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pixelsmith import PixelsmithError
from pixelsmith.io import read_image
from pixelsmith.probe import EXTENSIONS, OUTPUT_EXTENSIONS, find_images, probe


def save_gif(path, values, size=(6, 5)):
    frames = [Image.fromarray(np.full(size, v, np.uint8)) for v in values]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)


def test_header_is_read_without_decoding(tmp_path):
    Image.fromarray(np.zeros((5, 7, 3), np.uint8)).save(tmp_path / "a.png")
    header = probe(tmp_path / "a.png")
    assert (header.width, header.height, header.mode, header.frames) == (7, 5, "RGB", 1)


def test_an_animation_is_refused_with_what_to_do(tmp_path):
    save_gif(tmp_path / "anim.gif", [10, 128, 250])
    for check in (probe, read_image):
        with pytest.raises(PixelsmithError, match="anim.gif: an animation of 3 frames; .* separate files"):
            check(tmp_path / "anim.gif")


def test_a_still_gif_is_read_and_found_in_folders(tmp_path):
    save_gif(tmp_path / "still.gif", [77])
    assert read_image(tmp_path / "still.gif").pixels.mul(255).round().unique().tolist() == [77]
    assert find_images(tmp_path) == [tmp_path / "still.gif"]
    assert ".gif" in EXTENSIONS and ".gif" not in OUTPUT_EXTENSIONS  # read, never written (256 colours)


@pytest.mark.parametrize("content,words", [(b"", "not a readable image"), (b"GIF89a", "not a readable image"),
                                           (None, "no such file")])
def test_bad_files(tmp_path, content, words):
    path = tmp_path / "bad.gif"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PixelsmithError, match=words):
        probe(path)


def test_the_pixel_limit_is_checked_from_the_header(tmp_path):
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(PixelsmithError, match="40x30 = 1200 pixels exceeds the limit of 1000"):
        probe(tmp_path / "a.png", max_pixels=1000)


def test_listing_and_probing_do_not_import_torch(tmp_path):
    """What `pixelsmith models` prints first and what refuses a bad input need no torch, so they answer fast."""
    (tmp_path / "zero.png").write_bytes(b"")
    code = ("import sys; from pixelsmith.cli import main; from pixelsmith.catalog import list_bundled, "
            "parameter_count; [parameter_count(n) for n in list_bundled()]; "
            f"status = main(['restore', {str(tmp_path / 'zero.png')!r}, '-o', {str(tmp_path / 'x.png')!r}]); "
            "assert status == 1, status; assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "zero.png: not a readable image" in result.stderr
