"""The command line as a user runs it: real processes, real files, exit codes and one-line errors."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from pixelsmith.io import read_image
from pixelsmith.metrics import psnr

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


@pytest.fixture
def noisy_camera(tmp_path, camera):
    from pixelsmith.degradations import add_gaussian_noise
    from pixelsmith.io import write_image

    crop = camera[:, 100:292, 150:342]
    write_image(tmp_path / "clean.png", crop)
    noisy = add_gaussian_noise(crop, 25, torch.Generator().manual_seed(0), clip=True, quantize=True)
    write_image(tmp_path / "noisy.png", noisy)
    return tmp_path


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
    result = cli("models")
    assert result.returncode == 0
    for name in ("dcgan", "resunet", "dcgan-mnist", "resunet-denoise-gray", "resunet-denoise-color",
                 "resunet-jpeg-gray", "resunet-inpaint"):
        assert name in result.stdout
    assert "task=restore" in result.stdout and "task=generate" in result.stdout
    assert "MB" in result.stdout and "params=" in result.stdout


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
    (["restore", "{tmp}/bad.png", "-o", "{tmp}/o.png"], 1, ["bad.png", "not a readable image"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--task", "paint"], 2, ["invalid choice"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--method", "bm3d", "--sigma", "-3"], 2, ["sigma"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.xyz"], 2, ["unknown output format"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--model", "{tmp}/nowhere"], 1, ["no model at"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--max-pixels", "10"], 1, ["exceeds"]),
    (["restore", "{tmp}/empty", "-o", "{tmp}/out"], 1, ["no images found"]),
    (["generate", "--model", "resunet-denoise-gray", "-n", "2", "-o", "{tmp}/g"], 2, ["generative model"]),
    (["generate", "--model", "dcgan-mnist", "-n", "0", "-o", "{tmp}/g"], 2, ["at least 1"]),
    (["train", "{tmp}/nope.json", "--out", "{tmp}/run"], 2, ["no recipe"]),
    (["train", "{tmp}/recipe.json", "stepz=3", "--out", "{tmp}/run"], 1, ["unknown config key"]),
    (["degrade", "{tmp}/ok.png", "-o", "{tmp}/n.png", "--noise", "999"], 2, ["out of range"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--task", "jpeg", "--quality", "30", "--model",
      "resunet-denoise-gray"], 2, ["not a model for jpeg"]),
    (["restore", "{tmp}/ok.png", "-o", "{tmp}/o.png", "--task", "sr", "--model", "resunet-inpaint"], 2,
     ["not a model for denoise"]),
    (["export", "--model", "dcgan-mnist", "-o", "{tmp}/g.onnx"], 2, ["not an image-to-image"]),
    (["frobnicate"], 2, ["invalid choice"]),
])
def test_bad_input_gives_one_line_error(tmp_path, args, code, words):
    (tmp_path / "bad.png").write_text("not an image")
    (tmp_path / "empty").mkdir()
    (tmp_path / "recipe.json").write_text("{}")
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "ok.png")
    result = cli(*[a.format(tmp=tmp_path) for a in args])
    assert_clean_error(result, code, *words)
    assert not (tmp_path / "o.png").exists()  # nothing half-written


def test_folder_with_one_bad_file_processes_the_rest(tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "in" / "good.png")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = cli("restore", tmp_path / "in", "-o", tmp_path / "out")
    assert result.returncode == 1 and "broken.png" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "out" / "good.png").is_file() and not (tmp_path / "out" / "broken.png").exists()


def test_degrade_is_seeded(tmp_path, camera):
    from pixelsmith.io import write_image

    write_image(tmp_path / "c.png", camera[:, :64, :64])
    for name, seed in (("a.png", 1), ("b.png", 1), ("c2.png", 2)):
        assert cli("degrade", tmp_path / "c.png", "-o", tmp_path / name, "--noise", "25", "--seed", seed).returncode == 0
    a, b, c = (read_image(tmp_path / n).pixels for n in ("a.png", "b.png", "c2.png"))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert 20 < (a - camera[:, :64, :64]).std() * 255 < 30
    # the same file in another folder gets the same noise (seeded by name, not by where the folder lies) ...
    write_image(tmp_path / "elsewhere" / "c.png", camera[:, :64, :64])
    assert cli("degrade", tmp_path / "elsewhere" / "c.png", "-o", tmp_path / "d.png", "--noise", "25",
               "--seed", 1).returncode == 0
    assert torch.equal(read_image(tmp_path / "d.png").pixels, a)
    # ... and another file with the same pixels gets other noise
    write_image(tmp_path / "other.png", camera[:, :64, :64])
    assert cli("degrade", tmp_path / "other.png", "-o", tmp_path / "e.png", "--noise", "25",
               "--seed", 1).returncode == 0
    assert not torch.equal(read_image(tmp_path / "e.png").pixels, a)


def test_generate_writes_images_and_grid(tmp_path):
    result = cli("generate", "--model", "dcgan-mnist", "-n", "10", "-o", tmp_path / "out", "--grid", tmp_path / "g.png")
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 10
    grid = read_image(tmp_path / "g.png").pixels
    assert grid.shape[0] == 1 and grid.shape[1] > 28 * 3


def test_train_resume_and_generate_from_run(tmp_path, tiny_mnist):
    recipe = tmp_path / "r.json"
    recipe.write_text('{"task": "gan", "model": "dcgan", "model_args": {"width": 8, "latent_dim": 8}, '
                      '"data": "mnist", "steps": 4, "batch_size": 8, "sample_every": 2}')
    run = tmp_path / "run"
    first = cli("train", recipe, "steps=2", "--data-root", tiny_mnist, "--out", run, "--no-progress")
    assert first.returncode == 0, first.stderr
    second = cli("train", recipe, "--out", run, "--resume", "steps=4", "--no-progress")
    assert second.returncode == 0, second.stderr
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 4
    assert cli("generate", "--model", run, "-n", "3", "-o", tmp_path / "g").returncode == 0


def test_train_ddp_through_torchrun(tmp_path, tiny_mnist):
    recipe = tmp_path / "r.json"
    recipe.write_text('{"task": "gan", "model": "dcgan", "model_args": {"width": 8, "latent_dim": 8}, '
                      f'"data": "mnist", "data_root": "{tiny_mnist}", "steps": 3, "batch_size": 8}}')
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "--no-python"]
    result = subprocess.run(torchrun + EXE + ["train", str(recipe), "--out", str(tmp_path / "run"), "--no-progress"],
                            capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("trained model written") == 1  # only rank 0 reports and writes
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 3


def test_demo_writes_pictures(tmp_path):
    result = cli("demo", "--out", tmp_path / "demo")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "demo").iterdir())
    tasks = ["deblur", "denoise", "denoise_color", "inpaint", "jpeg", "sr_x4"]
    assert names == sorted([f"{t}_{n}.png" for t in tasks for n in ("clean", "input", "restored")]
                           + ["dcgan_mnist_grid.png"])
    for task, gain in (("denoise", 6), ("denoise_color", 4), ("deblur", 2)):
        clean, degraded, restored = (read_image(tmp_path / "demo" / f"{task}_{n}.png").pixels
                                     for n in ("clean", "input", "restored"))
        assert psnr(restored, clean) > psnr(degraded, clean) + gain, task
    assert read_image(tmp_path / "demo" / "sr_x4_restored.png").size == (512, 512)
    assert "dB" in result.stdout and str(tmp_path / "demo") in result.stdout


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
    assert_clean_error(result, 2, "accepted: model, dip, bm3d, nlm, tv, wavelet")
    assert not (tmp_path / "out").exists()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "in" / "a.jpg")
    result = cli("restore", tmp_path / "in", "-o", tmp_path / "out")
    assert_clean_error(result, 2, "would both be written")
