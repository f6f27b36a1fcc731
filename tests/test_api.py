"""The top-level API: ps.restore gives back the kind of image it was given, ps.generate passes sampling options
through, ps.load shares models, ps.list_models lists the bundled ones; and the README's example runs as written."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import pixelsmith as ps
from pixelsmith import Cancelled, UsageError
from pixelsmith import degradations as D
from pixelsmith.metrics import psnr

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def clean_and_noisy(camera):
    clean = camera[:, 100:164, 150:230]
    return clean, D.add_gaussian_noise(clean, 25, torch.Generator().manual_seed(0), clip=True, quantize=True)


def as_tensor(image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.float32) / (65535.0 if np.asarray(image).dtype == np.uint16 else 255.0)
    return torch.from_numpy(array if array.ndim == 3 else array[..., None]).permute(2, 0, 1)


def test_readme_example_runs_as_written(tmp_path, monkeypatch, clean_and_noisy):
    block = re.search(r"```python\n(import pixelsmith as ps\n.*?)```", README.read_text(), re.S)
    assert block, "README has no Python API example starting with 'import pixelsmith as ps'"
    _, noisy = clean_and_noisy
    monkeypatch.chdir(tmp_path)
    Image.fromarray((noisy[0] * 255).round().byte().numpy()).save("noisy.png")
    names: dict = {}
    exec(compile(block.group(1), "README.md", "exec"), names)
    assert len(block.group(1).strip().splitlines()) <= 6


@pytest.mark.parametrize("kind", ["path", "pil", "uint8", "uint16", "tensor", "tensor2d"])
def test_restore_gives_back_the_kind_it_was_given_and_denoises(tmp_path, clean_and_noisy, kind):
    clean, noisy = clean_and_noisy
    u8 = (noisy[0] * 255).round().byte().numpy()
    path = tmp_path / "noisy.png"
    Image.fromarray(u8).save(path)
    given = {"path": str(path), "pil": Image.fromarray(u8), "uint8": u8, "uint16": u8.astype(np.uint16) * 257,
             "tensor": noisy, "tensor2d": noisy[0]}[kind]
    out = ps.restore(given, task="denoise", sigma=25, ensemble=False)
    if kind in ("path", "pil"):
        assert isinstance(out, Image.Image) and out.mode == "L" and out.size == (80, 64)
        out = as_tensor(out)
    elif kind in ("uint8", "uint16"):
        assert isinstance(out, np.ndarray) and out.dtype == given.dtype and out.shape == given.shape
        out = as_tensor(out)
    else:
        assert torch.is_tensor(out) and out.shape == given.shape and out.dtype == torch.float32
        out = out.reshape(1, *out.shape[-2:])
    assert psnr(out, clean) > psnr(noisy, clean) + 4


def test_restore_keeps_rgba_alpha_and_inpaints_with_a_mask_of_any_kind(astronaut):
    rgba = np.dstack([(astronaut.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8),
                      np.full(astronaut.shape[-2:], 200, np.uint8)])
    holes = np.zeros(astronaut.shape[-2:], np.uint8)
    holes[30:50, 40:70] = 255
    for mask in (holes, torch.from_numpy(holes).float() / 255, Image.fromarray(holes)):
        out = ps.restore(Image.fromarray(rgba, "RGBA"), task="inpaint", mask=mask, ensemble=False)
        assert out.mode == "RGBA"
        array = np.asarray(out)
        assert (array[..., 3] == 200).all()  # alpha carried through
        assert np.array_equal(array[holes == 0, :3], rgba[holes == 0, :3])  # known pixels kept
        assert array[30:50, 40:70, :3].std() > 5  # the hole is filled, not left black


def test_restore_refuses_what_it_cannot_take(clean_and_noisy):
    _, noisy = clean_and_noisy
    with pytest.raises(UsageError, match="stregth=2 is not a parameter of restore; accepted: method, sigma"):
        ps.restore(noisy, stregth=2)
    with pytest.raises(UsageError, match="accepted: a path, a PIL image"):
        ps.restore([1, 2, 3])
    with pytest.raises(UsageError, match="accepted: uint8 or uint16"):
        ps.restore(np.zeros((8, 8), np.int32))
    with pytest.raises(UsageError, match="accepted: a float tensor"):
        ps.restore(torch.zeros(8, 8, dtype=torch.uint8))
    with pytest.raises(UsageError, match="scale=5 is not supported; accepted: 2, 3, 4"):
        ps.restore(noisy, task="sr", scale=5)
    with pytest.raises(UsageError, match="task=paint is not known"):
        ps.restore(noisy, task="paint")


def test_restore_reports_progress_and_cancels(camera):
    tall = torch.cat([camera, camera, camera], 1)  # larger than one tile of 1024
    tiles = []
    out = ps.restore(tall, task="denoise", sigma=10, ensemble=False, progress=tiles.append)
    assert out.shape == tall.shape and tiles and tiles[-1].done == tiles[-1].total > 1

    def cancel(event):
        raise Cancelled

    with pytest.raises(Cancelled):
        ps.restore(tall, task="denoise", sigma=10, ensemble=False, progress=cancel)


def test_generate_passes_sampling_options_through():
    digits = ps.generate("dcgan-mnist", 6, seed=3)
    assert digits.shape == (6, 1, 28, 28) and 0 <= digits.min() and digits.max() <= 1
    assert torch.equal(digits, ps.generate("dcgan-mnist", 6, seed=3))
    flat = ps.generate("dcgan-mnist", 6, seed=3, temperature=0)  # every latent is zero: one image six times
    assert torch.allclose(flat, flat[:1].expand_as(flat)) and not torch.allclose(digits, digits[:1].expand_as(digits))
    with pytest.raises(UsageError, match="takes no sampling option 'steps'; accepted: temperature"):
        ps.generate("dcgan-mnist", 2, steps=10)
    with pytest.raises(UsageError, match="temperature=9 is out of range"):
        ps.generate("dcgan-mnist", 2, temperature=9)
    with pytest.raises(UsageError, match="generating needs a generative model"):
        ps.generate("resunet-denoise-gray", 2)


def test_load_shares_models_and_list_models_names_the_bundled_ones():
    from pixelsmith.catalog import list_bundled

    assert ps.load("dcgan-mnist") is ps.load("dcgan-mnist")
    assert ps.list_models() == list_bundled()
    generators = ps.list_models("generate")
    assert "dcgan-mnist" in generators and all(ps.load(n).config["family"] == "generate" for n in generators)
    assert not set(generators) & set(ps.list_models("restore"))


def test_an_array_keeps_its_layout():
    """(H,W,1) comes back (H,W,1), (H,W) as (H,W): found by the fuzz test."""
    for shape in [(12, 10), (12, 10, 1), (12, 10, 3)]:
        out = ps.restore(np.full(shape, 90, np.uint8), "denoise", method="tv", sigma=5)
        assert out.shape == shape and out.dtype == np.uint8
