"""Every restoration task through the command line (run in this process, to keep the suite fast): gray,
16-bit and RGBA inputs, what happens to alpha, the degrade command, and one-line usage errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_main
from pixelsmith.io import read_image, write_image
from pixelsmith.jpeg import jpeg_quality


def hole_mask(h, w):
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:h // 2, w // 3:2 * w // 3] = 255
    return mask


@pytest.fixture
def inputs(tmp_path, astronaut):
    """gray.png (8-bit), gray16.png (16-bit), rgba.png (a transparent block) and mask.png, 64x72."""
    rgb = astronaut[:, 16:80, 24:96]
    write_image(tmp_path / "gray.png", rgb[1:2])
    write_image(tmp_path / "gray16.png", rgb[1:2], bit_depth=16)
    alpha = np.full((64, 72), 255, np.uint8)
    alpha[40:52, 8:30] = 0
    array = np.dstack([(rgb.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), alpha])
    Image.fromarray(array, "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(hole_mask(64, 72)).save(tmp_path / "mask.png")
    return tmp_path


TASK_ARGS = {
    "denoise": ["--sigma", "10", "--fast"],
    "inpaint": ["--mask", "{tmp}/mask.png"],
    "sr": ["--scale", "2", "--iterations", "4"],
    "deblur": ["--kernel", "gaussian:1.2", "--iterations", "4"],
    "jpeg": ["--quality", "30"],
}


@pytest.mark.parametrize("name", ["gray.png", "gray16.png", "rgba.png"])
@pytest.mark.parametrize("task", list(TASK_ARGS))
def test_every_task_on_gray_16bit_and_rgba(inputs, capsys, task, name):
    args = [a.format(tmp=inputs) for a in TASK_ARGS[task]]
    code, out, err = run_main(capsys, "restore", inputs / name, "-o", inputs / "out.png", "--task", task, *args)
    assert code == 0, err
    assert "restored 1 image(s)" in out
    source, result = read_image(inputs / name), read_image(inputs / "out.png")
    scale = 2 if task == "sr" else 1
    assert result.pixels.shape == (source.pixels.shape[0], 64 * scale, 72 * scale)
    assert result.bit_depth == source.bit_depth  # 16-bit stays 16-bit
    assert (result.alpha is None) == (source.alpha is None)
    if source.alpha is not None and task != "sr":
        assert torch.equal(result.alpha, source.alpha)  # alpha passes through untouched
    if task == "inpaint":
        known = torch.from_numpy(hole_mask(64, 72) == 0)[None].expand_as(source.pixels)
        assert (result.pixels[known] - source.pixels[known]).abs().max() < 1e-6
    elif task != "jpeg":  # the JPEG model may leave an image that is not a JPEG alone
        assert (result.pixels - torch.nn.functional.interpolate(
            source.pixels[None], scale_factor=scale)[0]).abs().mean() > 1e-3


def test_inpaint_the_transparent_pixels_of_rgba(inputs, capsys):
    code, _, err = run_main(capsys, "restore", inputs / "rgba.png", "-o", inputs / "filled.png", "--task", "inpaint")
    assert code == 0, err
    written = Image.open(inputs / "filled.png")
    assert written.mode == "RGB"  # the holes are filled, so the result is opaque
    source, result = np.asarray(Image.open(inputs / "rgba.png")), np.asarray(written)
    opaque = source[..., 3] == 255
    assert np.array_equal(result[opaque], source[opaque][:, :3])  # known pixels byte for byte
    # the colour stored under transparent pixels is not part of the image: changing it changes nothing
    other = source.copy()
    other[~opaque, :3] = 255 - other[~opaque, :3]
    Image.fromarray(other, "RGBA").save(inputs / "other.png")
    assert run_main(capsys, "restore", inputs / "other.png", "-o", inputs / "filled2.png", "--task", "inpaint")[0] == 0
    assert np.array_equal(np.asarray(Image.open(inputs / "filled2.png")), result)


def test_inpaint_with_a_classical_method_fills_the_holes(inputs, capsys):
    code, _, err = run_main(capsys, "restore", inputs / "rgba.png", "-o", inputs / "t.png", "--task", "inpaint",
                            "--method", "telea")
    assert code == 0, err
    source, result = np.asarray(Image.open(inputs / "rgba.png")), np.asarray(Image.open(inputs / "t.png"))
    truth = source[40:52, 8:30, :3].astype(float)
    assert np.abs(result[40:52, 8:30].astype(float) - truth).mean() < 0.5 * np.abs(truth).mean()


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sr_scales_the_image_and_its_alpha(inputs, capsys, scale):
    code, _, err = run_main(capsys, "restore", inputs / "rgba.png", "-o", inputs / "big.png", "--task", "sr",
                            "--scale", scale, "--method", "bicubic" if scale > 2 else "model", "--iterations", "2")
    assert code == 0, err
    result = np.asarray(Image.open(inputs / "big.png"))
    assert result.shape == (64 * scale, 72 * scale, 4)
    alpha = result[..., 3]
    assert alpha[(40 + 2) * scale:(52 - 2) * scale, (8 + 2) * scale:(30 - 2) * scale].max() < 13  # the hole, scaled
    assert alpha[:30 * scale].min() > 242 and alpha[:, 40 * scale:].min() > 242


def test_jpeg_task_reads_the_quality_from_the_file(inputs, capsys, monkeypatch):
    import pixelsmith.pipelines.restore as restore

    seen = []
    original = restore.remove_jpeg_artifacts

    def spy(x, quality, *args, **kwargs):
        seen.append(quality)
        return original(x, quality, *args, **kwargs)

    monkeypatch.setattr(restore, "remove_jpeg_artifacts", spy)
    rgb = np.asarray(Image.open(inputs / "rgba.png").convert("RGB"))
    for quality in (10, 75):
        Image.fromarray(rgb).save(inputs / f"q{quality}.jpg", quality=quality)
        code, _, err = run_main(capsys, "restore", inputs / f"q{quality}.jpg", "-o", inputs / f"q{quality}.png",
                                "--task", "jpeg")
        assert code == 0, err
        assert read_image(inputs / f"q{quality}.png").pixels.shape == (3, 64, 72)
    Image.fromarray(rgb[..., 0]).save(inputs / "g.jpg", quality=30)
    assert run_main(capsys, "restore", inputs / "g.jpg", "-o", inputs / "g30.png", "--task", "jpeg")[0] == 0
    assert read_image(inputs / "g30.png").pixels.shape == (1, 64, 72)
    code, _, err = run_main(capsys, "restore", inputs / "g.jpg", "-o", inputs / "g50.png", "--task", "jpeg",
                            "--quality", "50")
    assert code == 0, err
    assert seen == [10, 75, 30, 50]  # --quality wins over the tables


def test_deblur_with_a_kernel_image(inputs, capsys):
    from pixelsmith import degradations as D

    kernel = (D.gaussian_kernel(1.5) / D.gaussian_kernel(1.5).max() * 255).round().byte().numpy()
    Image.fromarray(kernel).save(inputs / "kernel.png")
    clean = read_image(inputs / "gray.png").pixels
    write_image(inputs / "blurred.png", D.blur(clean, D.gaussian_kernel(1.5), "reflect"))
    code, _, err = run_main(capsys, "restore", inputs / "blurred.png", "-o", inputs / "sharp.png", "--task", "deblur",
                            "--kernel", inputs / "kernel.png")
    assert code == 0, err
    from pixelsmith.metrics import psnr

    blurred = read_image(inputs / "blurred.png").pixels
    assert psnr(read_image(inputs / "sharp.png").pixels, clean) > psnr(blurred, clean) + 2


RESTORE_ERRORS = [
    (["--task", "deblur"], 2, ["deblur needs --kernel"]),
    (["--task", "deblur", "--kernel", "gaussian:x"], 2, ["bad kernel 'gaussian:x'"]),
    (["--task", "deblur", "--kernel", "box:3"], 2, ["bad kernel", "motion:LENGTH:ANGLE"]),
    (["--task", "deblur", "--kernel", "{tmp}/even.png"], 2, ["odd sides"]),
    (["--task", "deblur", "--kernel", "gaussian:-1"], 2, ["kernel"]),
    (["--task", "sr", "--scale", "5"], 2, ["--scale 5", "accepted: 2, 3, 4"]),
    (["--task", "jpeg", "--quality", "0"], 2, ["--quality 0", "out of range"]),
    (["--task", "jpeg"], 1, ["gray.png", "not a JPEG", "--quality"]),
    (["--task", "inpaint", "--mask", "{tmp}/nomask.png"], 2, ["no such file"]),
    (["--task", "inpaint", "--mask", "{tmp}/small.png"], 1, ["small.png", "must match"]),
    (["--task", "sr", "--method", "bm3d"], 2, ["unknown method 'bm3d' for sr", "accepted: model, bicubic, lanczos"]),
    (["--task", "jpeg", "--method", "nlm"], 2, ["accepted: model, none"]),
    (["--task", "deblur", "--kernel", "gaussian:1", "--method", "telea"], 2, ["accepted: model, wiener, rl"]),
    (["--task", "inpaint", "--method", "lanczos"], 2, ["accepted: model, dip, telea, ns, biharmonic"]),
    (["--task", "denoise", "--iterations", "0"], 2, ["--iterations 0"]),
    (["--task", "paint"], 2, ["invalid choice"]),
]


@pytest.mark.parametrize("args,code,words", RESTORE_ERRORS,
                         ids=[" ".join(a).replace("{tmp}/", "") for a, _, _ in RESTORE_ERRORS])
def test_restore_usage_errors(inputs, capsys, args, code, words):
    Image.fromarray(np.full((4, 3), 255, np.uint8)).save(inputs / "even.png")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(inputs / "small.png")
    status, _, err = run_main(capsys, "restore", inputs / "gray.png", "-o", inputs / "o.png",
                              *[a.format(tmp=inputs) for a in args])
    assert status == code, err
    assert len(err.strip().splitlines()) == 1, err  # one line, no traceback
    for word in words:
        assert word in err
    assert not (inputs / "o.png").exists()


def test_inpaint_without_holes_is_a_clear_failure(inputs, capsys):
    write_image(inputs / "rgb.png", read_image(inputs / "rgba.png").pixels)  # no alpha at all
    status, _, err = run_main(capsys, "restore", inputs / "rgb.png", "-o", inputs / "o.png", "--task", "inpaint")
    assert status == 1 and "nothing to inpaint" in err and "--mask" in err and len(err.strip().splitlines()) == 1
    (inputs / "in").mkdir()
    for name in ("a.png", "b.png"):
        write_image(inputs / "in" / name, read_image(inputs / "rgba.png").pixels)
    Image.open(inputs / "rgba.png").save(inputs / "in" / "c.png")  # only this one has holes
    status, out, err = run_main(capsys, "restore", inputs / "in", "-o", inputs / "out", "--task", "inpaint")
    assert status == 1 and err.count("nothing to inpaint") == 2
    assert sorted(p.name for p in (inputs / "out").iterdir()) == ["c.png"]  # the others did not stop it


def test_jpeg_folder_with_a_png_is_not_left_half_done(inputs, capsys):
    """A PNG among JPEGs without --quality: either that file fails alone and the others are restored
    (status 1), or the whole run is refused before any file (status 2), never a stop half-way."""
    (inputs / "in").mkdir()
    rgb = np.asarray(Image.open(inputs / "rgba.png").convert("RGB"))
    for name in ("a.jpg", "c.jpg"):
        Image.fromarray(rgb).save(inputs / "in" / name, quality=40)
    Image.fromarray(rgb).save(inputs / "in" / "b.png")
    status, _, err = run_main(capsys, "restore", inputs / "in", "-o", inputs / "out", "--task", "jpeg")
    assert "b.png" in err and "not a JPEG" in err
    written = sorted(p.name for p in (inputs / "out").iterdir()) if (inputs / "out").exists() else []
    assert (status, written) == (1, ["a.png", "c.png"])


# ---- degrade -------------------------------------------------------------------------------------------
def test_degrade_downscale_keeps_alpha(inputs, capsys):
    code, _, err = run_main(capsys, "degrade", inputs / "rgba.png", "-o", inputs / "small.png", "--downscale", "2")
    assert code == 0, err
    small = np.asarray(Image.open(inputs / "small.png"))
    assert small.shape == (32, 36, 4)
    assert small[21:25, 5:14, 3].max() < 13 and small[:15, :, 3].min() > 242  # the transparent block, halved


def test_degrade_mask_then_inpaint(inputs, capsys):
    code, _, err = run_main(capsys, "degrade", inputs / "gray.png", "-o", inputs / "holes.png", "--mask", "strokes",
                            "--seed", "3")
    assert code == 0, err
    holes = np.asarray(Image.open(inputs / "holes.png"))
    source = np.asarray(Image.open(inputs / "gray.png"))
    assert Image.open(inputs / "holes.png").mode == "LA"
    assert np.array_equal(holes[..., 0], source)  # the pixels are kept; the holes are marked in alpha
    assert set(np.unique(holes[..., 1]).tolist()) == {0, 255} and 0 < (holes[..., 1] == 0).mean() < 0.9
    code, _, err = run_main(capsys, "restore", inputs / "holes.png", "-o", inputs / "filled.png", "--task", "inpaint")
    assert code == 0, err
    filled = np.asarray(Image.open(inputs / "filled.png"))
    assert filled.ndim == 2 and np.array_equal(filled[holes[..., 1] == 255], source[holes[..., 1] == 255])


def test_degrade_jpeg_writes_a_real_jpeg_or_its_pixels(inputs, capsys):
    assert run_main(capsys, "degrade", inputs / "gray.png", "-o", inputs / "d.jpg", "--jpeg", "30")[0] == 0
    assert jpeg_quality(str(inputs / "d.jpg")) == 30
    assert run_main(capsys, "degrade", inputs / "gray.png", "-o", inputs / "d.png", "--jpeg", "30")[0] == 0
    as_png, as_jpeg = read_image(inputs / "d.png").pixels, read_image(inputs / "d.jpg").pixels
    source = read_image(inputs / "gray.png").pixels
    assert 0 < (as_png - source).abs().mean() < 0.05
    assert (as_png - as_jpeg).abs().max() < 2 / 255  # the same JPEG, once decoded into a PNG


def test_degrade_blur_with_a_delta_kernel_is_lossless(inputs, capsys):
    delta = np.zeros((3, 3), np.uint8)
    delta[1, 1] = 255
    Image.fromarray(delta).save(inputs / "delta.png")
    code, _, err = run_main(capsys, "degrade", inputs / "rgba.png", "-o", inputs / "same.png",
                            "--blur", inputs / "delta.png")
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(inputs / "same.png")), np.asarray(Image.open(inputs / "rgba.png")))
    stripes = torch.zeros(1, 40, 48)
    stripes[..., ::2] = 1  # vertical stripes: constant down each column
    write_image(inputs / "stripes.png", stripes)
    assert run_main(capsys, "degrade", inputs / "stripes.png", "-o", inputs / "v.png", "--blur", "motion:9:90")[0] == 0
    assert torch.equal(read_image(inputs / "v.png").pixels, stripes)  # a vertical motion cannot blur them
    assert run_main(capsys, "degrade", inputs / "stripes.png", "-o", inputs / "h.png", "--blur", "motion:9:0")[0] == 0
    smeared = read_image(inputs / "h.png").pixels  # a horizontal one averages 5 bright and 4 dark columns
    assert torch.allclose(smeared[..., 0::2], torch.full_like(smeared[..., 0::2], 5 / 9), atol=1 / 255)
    assert torch.allclose(smeared[..., 1::2], torch.full_like(smeared[..., 1::2], 4 / 9), atol=1 / 255)


def test_degrade_poisson_noise_grows_with_brightness(tmp_path, capsys):
    flat = torch.cat([torch.full((1, 96, 48), 0.1), torch.full((1, 96, 48), 0.4)], -1)  # far from clipping
    write_image(tmp_path / "flat.png", flat, bit_depth=16)
    code, _, err = run_main(capsys, "degrade", tmp_path / "flat.png", "-o", tmp_path / "shot.png", "--poisson", "30")
    assert code == 0, err
    noise = read_image(tmp_path / "shot.png").pixels - flat
    dark, bright = noise[..., :48].std(), noise[..., 48:].std()
    assert abs(dark - (0.1 / 30) ** 0.5) < 0.1 * (0.1 / 30) ** 0.5  # variance = signal / photons
    assert abs(bright - (0.4 / 30) ** 0.5) < 0.1 * (0.4 / 30) ** 0.5


DEGRADE_ERRORS = [
    ([], ["nothing to do"]),
    (["--downscale", "5"], ["--downscale 5", "accepted: 2, 3, 4"]),
    (["--mask", "circles"], ["--mask circles", "accepted: strokes, box, pixels, text"]),
    (["--jpeg", "0"], ["--jpeg 0"]),
    (["--poisson", "-1"], ["--poisson -1"]),
    (["--blur", "gaussian:abc"], ["gaussian:abc"]),
    (["--noise", "-5"], ["--noise -5", "out of range"]),
]


@pytest.mark.parametrize("args,words", DEGRADE_ERRORS, ids=[" ".join(a) or "no option" for a, _ in DEGRADE_ERRORS])
def test_degrade_usage_errors(inputs, capsys, args, words):
    status, _, err = run_main(capsys, "degrade", inputs / "gray.png", "-o", inputs / "d.png", *args)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err
    assert not (inputs / "d.png").exists()


# ---- export --------------------------------------------------------------------------------------------
def test_export_command(tmp_path, capsys):
    pytest.importorskip("onnx")
    code, out, err = run_main(capsys, "export", "--model", "resunet-denoise-gray", "-o", tmp_path / "d.onnx")
    assert code == 0, err
    assert str(tmp_path / "d.onnx") in out and (tmp_path / "d.onnx").stat().st_size > 1e6
    status, _, err = run_main(capsys, "export", "--model", "resunet-denoise-gray", "-o", tmp_path / "d.onnx")
    assert status == 1 and "exists" in err and "--overwrite" in err
    code, _, err = run_main(capsys, "export", "--model", "resunet-denoise-gray", "-o", tmp_path / "d.onnx",
                            "--overwrite")
    assert code == 0, err
    for args, words in [(["--model", "dcgan-mnist", "-o", tmp_path / "g.onnx"], ["not an image-to-image"]),
                        (["--model", "resunet-denoise-gray", "-o", tmp_path / "d.txt"], [".onnx"]),
                        (["--model", "resunet-denoise-gray", "-o", tmp_path / "e.onnx", "--format", "tflite"],
                         ["invalid choice"])]:
        status, _, err = run_main(capsys, "export", *args)
        assert status == 2 and all(w in err for w in words) and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.onnx"]
