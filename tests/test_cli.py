"""The command line (pixelsmith.cli) as a user runs it: the console script in real processes (exit codes,
one-line errors, torchrun), and every command in this process to keep the suite fast (every task on gray,
16-bit and RGBA inputs, alpha, masks, JPEG files, degrade, export, generate, train). Library errors name
parameters as name=value; here they must show the flags."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import hole, inside_intervals, run_main, saved_jpeg
from PIL import Image

from pixelsmith.io import read_image, write_image
from pixelsmith.jpeg import jpeg_quality
from pixelsmith.metrics import psnr

pytestmark = pytest.mark.cli

EXE = [shutil.which("pixelsmith")] if shutil.which("pixelsmith") else [sys.executable, "-m", "pixelsmith"]


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(EXE + [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def assert_clean_error(result, code, *words):
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1 or result.returncode == 2, result.stderr
    for word in words:
        assert word in result.stderr


def hole_mask(h, w):
    return (hole(h, w)[0].numpy() * 255).astype(np.uint8)


@pytest.fixture
def noisy_camera(tmp_path, camera):
    from pixelsmith.degradations import add_gaussian_noise

    crop = camera[:, 100:292, 150:342]
    write_image(tmp_path / "clean.png", crop)
    noisy = add_gaussian_noise(crop, 25, torch.Generator().manual_seed(0), clip=True, quantize=True)
    write_image(tmp_path / "noisy.png", noisy)
    return tmp_path


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


# ==== the console script in real processes ====================================================================
def test_help_lists_commands_with_examples():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("models", "restore", "degrade", "export", "generate", "train", "demo"):
        assert command in result.stdout
    result = cli("restore", "--help")
    assert result.returncode == 0 and "example:" in result.stdout
    for option in ("--task", "--method", "--sigma", "--scale", "--kernel", "--quality", "--mask", "--iterations"):
        assert option in result.stdout
    for task in ("denoise", "inpaint", "sr", "deblur", "jpeg"):
        assert task in result.stdout


def test_models_lists_registered_and_bundled():
    from pixelsmith.catalog import list_bundled, read_config
    from pixelsmith.registry import get_entry, list_models

    result = cli("models")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in list_models():
        assert any(line.split()[:2] == [name, f"family={get_entry(name).family}"] for line in lines), name
    for name in list_bundled():
        config = read_config(name)
        line = next(line for line in lines if line.split()[:1] == [name])
        assert f"family={config['family']}" in line and "MB" in line and "params=" in line
        if config["family"] == "restore":
            assert f"restores={config['restores']}" in line
    assert "options: temperature=1.0" in result.stdout  # a generator's sampling options


@pytest.mark.slow
def test_restore_file_improves_psnr(noisy_camera):
    result = cli("restore", noisy_camera / "noisy.png", "-o", noisy_camera / "out.png", "--task", "denoise")
    assert result.returncode == 0, result.stderr
    clean = read_image(noisy_camera / "clean.png").pixels
    before = psnr(read_image(noisy_camera / "noisy.png").pixels, clean).item()
    after = psnr(read_image(noisy_camera / "out.png").pixels, clean).item()
    assert after > before + 5
    again = cli("restore", noisy_camera / "noisy.png", "-o", noisy_camera / "out.png")
    assert_clean_error(again, 1, "exists", "--overwrite")
    assert cli("restore", noisy_camera / "noisy.png", "-o", noisy_camera / "out.png", "--overwrite").returncode == 0


def test_restore_folder_keeps_relative_paths_and_skips_existing(tmp_path):
    src = tmp_path / "in"
    (src / "a" / "b").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 50), dtype=np.uint8)).save(src / "one.jpg")
    Image.fromarray(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)).save(src / "a" / "b" / "two.tif")
    rgba = rng.integers(0, 256, (24, 24, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(src / "a" / "three.png")
    result = cli("restore", src, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    outputs = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert outputs == ["a/b/two.png", "a/three.png", "one.png"]
    assert read_image(tmp_path / "out" / "a" / "b" / "two.png").pixels.shape == (3, 30, 20)
    alpha = np.asarray(Image.open(tmp_path / "out" / "a" / "three.png"))[..., 3]
    assert np.array_equal(alpha, rgba[..., 3])  # alpha passes through untouched
    stamp = (tmp_path / "out" / "one.png").stat().st_mtime_ns
    again = cli("restore", src, "-o", tmp_path / "out")
    assert again.returncode == 0 and "skipped 3" in again.stderr
    assert (tmp_path / "out" / "one.png").stat().st_mtime_ns == stamp


def test_restore_16bit_stays_16bit(tmp_path, camera):
    from pixelsmith.io import write_image

    write_image(tmp_path / "in.png", camera[:, :64, :64], bit_depth=16)
    assert cli("restore", tmp_path / "in.png", "-o", tmp_path / "out.png").returncode == 0
    assert read_image(tmp_path / "out.png").bit_depth == 16


def test_restore_classical_method(noisy_camera):
    result = cli("restore", noisy_camera / "noisy.png", "-o", noisy_camera / "nlm.png", "--method", "nlm")
    assert result.returncode == 0, result.stderr
    clean = read_image(noisy_camera / "clean.png").pixels
    assert psnr(read_image(noisy_camera / "nlm.png").pixels, clean) > psnr(
        read_image(noisy_camera / "noisy.png").pixels, clean)


@pytest.mark.parametrize("args,code,words", [
    (["restore", "{tmp}/missing.png", "-o", "{tmp}/o.png"], 1, ["missing.png", "no such file"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--task", "sr", "--scale", "5"], 2, ["--scale 5"]),
    (["frobnicate"], 2, ["invalid choice"]),
], ids=["runtime", "usage", "argparse"])
def test_the_console_script_exits_with_one_line_errors(tmp_path, args, code, words):
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "ok.png")
    assert_clean_error(cli(*[a.format(tmp=tmp_path) for a in args]), code, *words)


def test_folder_with_one_bad_file_processes_the_rest(tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "in" / "good.png")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = cli("restore", tmp_path / "in", "-o", tmp_path / "out")
    assert result.returncode == 1 and "broken.png" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "out" / "good.png").is_file() and not (tmp_path / "out" / "broken.png").exists()


def test_generate_writes_images_and_grid(tmp_path):
    result = cli("generate", "--model", "dcgan-mnist", "-n", "10", "-o", tmp_path / "out", "--grid", tmp_path / "g.png")
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 10
    grid = read_image(tmp_path / "g.png").pixels
    assert grid.shape[0] == 1 and grid.shape[1] > 28 * 3


@pytest.mark.slow
def test_train_resume_and_generate_from_run(tmp_path, tiny_mnist):
    recipe = tmp_path / "r.json"
    recipe.write_text('{"task": "gan", "model": "dcgan", "model_args": {"width": 8, "latent_dim": 8}, '
                      '"data": "mnist", "steps": 4, "batch_size": 8, "sample_every": 2}')  # an older recipe's keys
    run = tmp_path / "run"
    first = cli("train", recipe, "steps=2", "--data-root", tiny_mnist, "--out", run, "--no-progress")
    assert first.returncode == 0, first.stderr
    second = cli("train", recipe, "--out", run, "--resume", "steps=4", "--no-progress")
    assert second.returncode == 0, second.stderr
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 4
    assert cli("generate", "--model", run, "-n", "3", "-o", tmp_path / "g").returncode == 0


@pytest.mark.slow
@pytest.mark.ddp
def test_train_ddp_through_torchrun(tmp_path, tiny_mnist):
    recipe = tmp_path / "r.json"
    recipe.write_text('{"objective": "gan", "model": "dcgan", "model_args": {"width": 8, "latent_dim": 8}, '
                      f'"data": "mnist", "data_root": "{tiny_mnist}", "steps": 3, "batch_size": 8}}')
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "--no-python"]
    result = subprocess.run(torchrun + EXE + ["train", str(recipe), "--out", str(tmp_path / "run"), "--no-progress"],
                            capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("trained model written") == 1  # only rank 0 reports and writes
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 3


def test_train_from_a_bundled_models_recipe(tmp_path, tiny_mnist):
    result = cli("train", "dcgan-mnist", "steps=2", "batch_size=8", "--data-root", tiny_mnist,
                 "--out", tmp_path / "run", "--no-progress", cwd=tmp_path)  # no ./configs here
    assert result.returncode == 0, result.stderr
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["config"]
    assert saved["model"] == "dcgan" and saved["steps"] == 2 and saved["data_root"] == str(tiny_mnist)


def test_folder_usage_errors_fail_once_before_any_file(tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "in" / name)
    result = cli("restore", tmp_path / "in", "-o", tmp_path / "out", "--method", "magic")
    assert_clean_error(result, 2, "--method magic is not known for denoise",
                       "accepted: model, dip, bm3d, nlm, tv, wavelet")
    assert not (tmp_path / "out").exists()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "in" / "a.jpg")
    result = cli("restore", tmp_path / "in", "-o", tmp_path / "out")
    assert_clean_error(result, 2, "would both be written")


# ==== every command in this process ===========================================================================
@pytest.mark.parametrize("args,code,words", [
    (["restore", "{tmp}/missing.png", "-o", "{tmp}/o.png"], 1, ["missing.png", "no such file"]),
    (["restore", "{tmp}/bad.png", "-o", "{tmp}/o.png"], 1, ["bad.png", "not a readable image"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--task", "paint"], 2, ["invalid choice"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--method", "bm3d", "--sigma", "-3"], 2,
     ["--sigma -3.0 is out of range"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.xyz"], 2, ["unknown output format"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--model", "{tmp}/nowhere"], 1, ["no model at"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--max-pixels", "10"], 1, ["exceeds"]),
    (["restore", "{tmp}/empty", "-o", "{tmp}/out"], 1, ["no images found"]),
    (["generate", "--model", "resunet-denoise-gray", "-n", "2", "-o", "{tmp}/g"], 2,
     ["--model resunet-denoise-gray is a 'restore' model", "generative model"]),
    (["generate", "--model", "dcgan-mnist", "-n", "0", "-o", "{tmp}/g"], 2, ["-n 0", "at least 1"]),
    (["train", "{tmp}/nope.json", "--out", "{tmp}/run"], 2, ["no recipe"]),
    (["train", "{tmp}/recipe.json", "stepz=3", "--out", "{tmp}/run"], 1, ["unknown config key"]),
    (["degrade", "{tmp}/ok.png", "-o", "{tmp}/n.png", "--noise", "999"], 2, ["--noise 999.0 is out of range"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--task", "jpeg", "--quality", "30", "--model",
      "resunet-denoise-gray"], 2, ["--model resunet-denoise-gray is not a model for jpeg"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--task", "sr", "--model", "resunet-inpaint"], 2,
     ["not a model for sr"]),
    (["export", "--model", "dcgan-mnist", "-o", "{tmp}/g.onnx"], 2, ["not an image-to-image"]),
    (["frobnicate"], 2, ["invalid choice"]),
])
def test_bad_input_gives_one_line_error(tmp_path, capsys, args, code, words):
    """Run in this process (an exception escaping main would fail the test, as a traceback would)."""
    (tmp_path / "bad.png").write_text("not an image")
    (tmp_path / "empty").mkdir()
    (tmp_path / "recipe.json").write_text("{}")
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "ok.png")
    status, _, err = run_main(capsys, *[a.format(tmp=tmp_path) for a in args])
    assert status == code, err
    assert len(err.strip().splitlines()) == 1 or status == 2, err
    assert all(word in err for word in words), err
    assert not (tmp_path / "o.png").exists()  # nothing half-written


TASK_ARGS = {
    "denoise": ["--sigma", "10", "--fast"],
    "inpaint": ["--mask", "{tmp}/mask.png"],
    "sr": ["--scale", "2"],
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
                            "--scale", scale, "--method", "bicubic" if scale > 2 else "model")
    assert code == 0, err
    result = np.asarray(Image.open(inputs / "big.png"))
    assert result.shape == (64 * scale, 72 * scale, 4)
    alpha = result[..., 3]
    assert alpha[(40 + 2) * scale:(52 - 2) * scale, (8 + 2) * scale:(30 - 2) * scale].max() < 13  # the hole, scaled
    assert alpha[:30 * scale].min() > 242 and alpha[:, 40 * scale:].min() > 242


def test_jpeg_task_reads_the_quality_from_the_file(inputs, capsys):
    """Without --quality each file's tables give it: the result is the one --quality with that value gives, and
    another --quality gives another result (the flag wins over the tables)."""
    rgb = np.asarray(Image.open(inputs / "rgba.png").convert("RGB"))
    Image.fromarray(rgb[..., 0]).save(inputs / "g.jpg", quality=30)
    Image.fromarray(rgb).save(inputs / "c.jpg", quality=75)
    results = {}
    for name, flags in (("g", []), ("g30", ["--quality", "30"]), ("g50", ["--quality", "50"]), ("c", []),
                        ("c75", ["--quality", "75"])):
        code, _, err = run_main(capsys, "restore", inputs / f"{name[0]}.jpg", "-o", inputs / f"{name}.png",
                                "--task", "jpeg", "--fast", *flags)
        assert code == 0, err
        results[name] = read_image(inputs / f"{name}.png").pixels
    assert results["g"].shape == (1, 64, 72) and results["c"].shape == (3, 64, 72)
    assert torch.equal(results["g"], results["g30"]) and not torch.equal(results["g"], results["g50"])
    assert torch.equal(results["c"], results["c75"])


def test_cli_jpeg_reads_the_table_from_the_file(tmp_path, capsys, camera):
    clean = camera[0, 128:256, 128:256]
    decoded = saved_jpeg(clean, tmp_path / "in.jpg", qtables=[[60] * 64])
    code, _, err = run_main(capsys, "restore", tmp_path / "in.jpg", "-o", tmp_path / "out.png", "--task", "jpeg",
                            "--fast")
    assert code == 0, err
    out = torch.from_numpy(np.array(Image.open(tmp_path / "out.png"))).float() / 255
    table = torch.full((8, 8), 60.0, dtype=torch.float64)
    assert inside_intervals(out, decoded, table).float().mean() > 0.99


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
    (["--task", "deblur"], 2, ["deblur needs --kernel gaussian:SIGMA"]),
    (["--task", "deblur", "--kernel", "gaussian:x"], 2, ["--kernel gaussian:x is not a kernel"]),
    (["--task", "deblur", "--kernel", "box:3"], 2, ["--kernel box:3 is not a kernel", "motion:LENGTH:ANGLE"]),
    (["--task", "deblur", "--kernel", "{tmp}/even.png"], 2, ["odd sides"]),
    (["--task", "deblur", "--kernel", "gaussian:-1"], 2, ["--kernel gaussian:-1: sigma out of range"]),
    (["--task", "sr", "--scale", "5"], 2, ["--scale 5", "accepted: 2, 3, 4"]),
    (["--task", "jpeg", "--quality", "0"], 2, ["--quality 0", "out of range"]),
    (["--task", "jpeg"], 1, ["gray.png", "not a JPEG", "pass --quality Q"]),
    (["--task", "inpaint", "--mask", "{tmp}/nomask.png"], 2, ["--mask", "nomask.png: no such file"]),
    (["--task", "inpaint", "--mask", "{tmp}/small.png"], 1, ["small.png", "must match"]),
    (["--task", "sr", "--method", "bm3d"], 2, ["--method bm3d is not known for sr",
                                                "accepted: model, pnp, bicubic, lanczos"]),
    (["--task", "jpeg", "--method", "nlm"], 2, ["accepted: model, none"]),
    (["--task", "deblur", "--kernel", "gaussian:1", "--method", "telea"], 2, ["accepted: model, wiener, rl"]),
    (["--task", "inpaint", "--method", "lanczos"], 2, ["accepted: model, dip, diffusion, telea, ns, biharmonic"]),
    (["--task", "denoise", "--iterations", "0"], 2, ["--iterations 0"]),
    (["--task", "paint"], 2, ["invalid choice"]),
    (["--colour", "rainbow"], 2, ["invalid choice"]),
    (["--max-pixels", "10"], 1, ["exceeds", "--max-pixels N"]),
    (["--max-pixels", "0"], 2, ["--max-pixels 0 must be at least 1"]),
    (["--fast", "--ensemble"], 2, ["not allowed with argument --fast"]),
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
    assert status == 1 and "nothing to inpaint" in err and "pass --mask FILE" in err
    assert len(err.strip().splitlines()) == 1
    (inputs / "in").mkdir()
    for name in ("a.png", "b.png"):
        write_image(inputs / "in" / name, read_image(inputs / "rgba.png").pixels)
    Image.open(inputs / "rgba.png").save(inputs / "in" / "c.png")  # only this one has holes
    status, _, err = run_main(capsys, "restore", inputs / "in", "-o", inputs / "out", "--task", "inpaint")
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
def test_degrade_is_seeded(tmp_path, capsys, camera):
    write_image(tmp_path / "c.png", camera[:, :64, :64])
    for name, seed in (("a.png", 1), ("b.png", 1), ("c2.png", 2)):
        code, _, err = run_main(capsys, "degrade", tmp_path / "c.png", "-o", tmp_path / name, "--noise", "25",
                                "--seed", seed)
        assert code == 0, err
    a, b, c = (read_image(tmp_path / n).pixels for n in ("a.png", "b.png", "c2.png"))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert 20 < (a - camera[:, :64, :64]).std() * 255 < 30
    # the same file in another folder gets the same noise (seeded by name, not by where the folder lies) ...
    write_image(tmp_path / "elsewhere" / "c.png", camera[:, :64, :64])
    assert run_main(capsys, "degrade", tmp_path / "elsewhere" / "c.png", "-o", tmp_path / "d.png", "--noise", "25",
                    "--seed", 1)[0] == 0
    assert torch.equal(read_image(tmp_path / "d.png").pixels, a)
    # ... and another file with the same pixels gets other noise
    write_image(tmp_path / "other.png", camera[:, :64, :64])
    assert run_main(capsys, "degrade", tmp_path / "other.png", "-o", tmp_path / "e.png", "--noise", "25",
                    "--seed", 1)[0] == 0
    assert not torch.equal(read_image(tmp_path / "e.png").pixels, a)


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
    (["--blur", "gaussian:abc"], ["gaussian:abc is not a kernel"]),
    (["--noise", "-5"], ["--noise -5", "out of range"]),
]


@pytest.mark.parametrize("args,words", DEGRADE_ERRORS, ids=[" ".join(a) or "no option" for a, _ in DEGRADE_ERRORS])
def test_degrade_usage_errors(inputs, capsys, args, words):
    status, _, err = run_main(capsys, "degrade", inputs / "gray.png", "-o", inputs / "d.png", *args)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err
    assert not (inputs / "d.png").exists()


def test_degrade_blur_errors_name_the_blur_flag(inputs, capsys):
    status, _, err = run_main(capsys, "degrade", inputs / "gray.png", "-o", inputs / "d.png", "--blur", "box:3")
    assert status == 2 and "--blur box:3" in err and "--kernel" not in err


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


# ---- generate ------------------------------------------------------------------------------------------
def test_generate_passes_sampling_options(tmp_path, capsys):
    code, out, err = run_main(capsys, "generate", "--model", "dcgan-mnist", "-n", "3", "-o", tmp_path / "flat",
                              "--option", "temperature=0")
    assert code == 0, err
    assert "wrote 3 image(s)" in out
    images = [read_image(tmp_path / "flat" / f"{i:06d}.png").pixels for i in range(3)]
    assert torch.equal(images[0], images[1]) and torch.equal(images[0], images[2])  # zero latents: one image
    for args, words in [(["--class", "3"], ["--class 3", "accepted: temperature"]),
                        (["--steps", "10"], ["--steps 10", "no sampling option"]),
                        (["--option", "temperature"], ["--option temperature is not KEY=VALUE"]),
                        (["--option", "temperature=9"], ["temperature=9 is out of range"])]:
        status, _, err = run_main(capsys, "generate", "--model", "dcgan-mnist", "-n", "2", "-o", tmp_path / "g", *args)
        assert status == 2 and len(err.strip().splitlines()) == 1, err
        assert all(w in err for w in words), err
    assert not (tmp_path / "g").exists()
    status, _, err = run_main(capsys, "generate", "--model", "dcgan-mnist", "-n", "3", "-o", tmp_path / "flat")
    assert status == 1 and "exists" in err and "--overwrite" in err


# ---- options of restore that only the CLI sets ---------------------------------------------------------
def test_colour_strategy_and_precision_flags(inputs, capsys, monkeypatch):
    from pixelsmith.degradations import add_gaussian_noise
    from pixelsmith.precision import native_bf16

    monkeypatch.setenv("PIXELSMITH_BF16", "1")  # bf16 as on a processor that has it, so --fp32 changes something
    monkeypatch.setattr("pixelsmith.precision.native_bf16", native_bf16.__wrapped__)

    rgb = read_image(inputs / "rgba.png").pixels
    write_image(inputs / "noisy.png", add_gaussian_noise(rgb, 30, torch.Generator().manual_seed(1), clip=True))
    outputs = {}
    for name, flags in (("auto", []), ("mix", ["--colour", "mix"]), ("views", ["--colour", "views"]),
                        ("fp32", ["--fp32"])):
        code, _, err = run_main(capsys, "restore", inputs / "noisy.png", "-o", inputs / f"{name}.png", "--sigma", "30",
                                *flags)
        assert code == 0, err
        outputs[name] = read_image(inputs / f"{name}.png").pixels
    assert torch.equal(outputs["auto"], outputs["mix"])  # a file's values lie in [0, 1]: auto is mix
    assert not torch.equal(outputs["auto"], outputs["views"])
    assert not torch.equal(outputs["auto"], outputs["fp32"]) and (outputs["auto"] - outputs["fp32"]).abs().mean() < 0.01


def test_a_folder_is_shared_between_torchrun_ranks(tmp_path, capsys, monkeypatch):
    """Under torchrun (RANK and WORLD_SIZE set) each process restores every n-th file of a folder."""
    for i in range(5):
        write_image(tmp_path / "in" / f"{i}.png", torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(i)))
    monkeypatch.setenv("WORLD_SIZE", "2")
    written = {}
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        code, out, err = run_main(capsys, "restore", tmp_path / "in", "-o", tmp_path / "out", "--method", "nlm",
                                  "--sigma", "10")
        assert code == 0, err
        written[rank] = out
    assert "restored 3 image(s)" in written[0] and "restored 2 image(s)" in written[1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i}.png" for i in range(5)]


# ==== Ctrl-C: a real SIGINT to a real process ==================================================================
def start(*args, cwd=None):
    """The console script in a process that takes Ctrl-C as a terminal gives it (a background job, as CI may
    be, starts with SIGINT ignored), without progress bars."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", TQDM_DISABLE="1")
    return subprocess.Popen(EXE + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def interrupt_when(process, ready, presses=1, timeout=300):
    deadline = time.monotonic() + timeout
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(presses):
        process.send_signal(signal.SIGINT)
        time.sleep(0.05)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@pytest.mark.slow
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_during_a_folder_says_what_was_written(tmp_path, presses):
    for i in range(40):  # enough that a fast (bf16) machine is still working when the interrupt lands
        write_image(tmp_path / "in" / f"{i:02d}.png", torch.rand(1, 96, 96, generator=torch.Generator().manual_seed(i)))
    process = start("restore", tmp_path / "in", "-o", tmp_path / "out", "--sigma", "20")
    code, out, err = interrupt_when(process, lambda: any((tmp_path / "out").glob("*.png")), presses)
    written = sorted((tmp_path / "out").glob("*"))
    # a second press that lands while the process exits ends it by the signal itself: a shell shows 130 for both
    assert code in (130, -signal.SIGINT), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"pixelsmith restore: interrupted; {len(written)} of 40 outputs written, nothing partial left" in err
    assert 1 <= len(written) < 40 and all(p.suffix == ".png" for p in written)  # no temp file left
    assert all(read_image(p).size == (96, 96) for p in written)


@pytest.mark.slow
def test_ctrl_c_during_generate_leaves_whole_files_only(tmp_path):
    process = start("generate", "--model", "dcgan-mnist", "-n", "3000", "-o", tmp_path / "out", "--grid",
                    tmp_path / "grid.png")
    code, out, err = interrupt_when(process, lambda: len(list((tmp_path / "out").glob("*.png"))) > 20)
    written = sorted((tmp_path / "out").glob("*"))
    assert code == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"interrupted; {len(written)} of 3001 outputs written, nothing partial left" in err
    assert all(p.suffix == ".png" for p in written) and not (tmp_path / "grid.png").exists()


def test_models_prints_the_bundled_models_first(capsys):
    from pixelsmith.catalog import list_bundled, parameter_count
    from pixelsmith.hub import from_pretrained
    from pixelsmith.registry import count_parameters

    code, out, _ = run_main(capsys, "models")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "bundled pretrained models:"
    assert [line.split()[0] for line in lines[1:1 + len(list_bundled())]] == list_bundled()
    for name in list_bundled():  # the header's count is the built model's
        assert parameter_count(name) == count_parameters(from_pretrained(name))
