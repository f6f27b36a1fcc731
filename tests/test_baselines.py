"""The classical methods (pixelsmith.baselines) every learned model is compared with: each keeps the contract of
its task (shape, dtype, range, known pixels), does what its name says, and the noise-level estimate reads the
true level, also on files whose noise was clipped."""

import numpy as np
import pytest
import torch
from conftest import gen, hole

from pixelsmith import PixelsmithError
from pixelsmith import degradations as D
from pixelsmith.baselines import (
    classical_deblur,
    classical_denoise,
    classical_inpaint,
    classical_upscale,
    estimate_sigma,
    estimate_sigmas,
    in_unit_range,
)
from pixelsmith.metrics import psnr
from pixelsmith.pipelines.methods import METHODS

CLASSICAL = [(task, m) for task, methods in METHODS.items() for m in methods if m not in ("model", "pnp", "dip", "diffusion", "none")]


@pytest.mark.parametrize("task,method", CLASSICAL, ids=[f"{t}-{m}" for t, m in CLASSICAL])
def test_classical_methods_keep_the_contract(astronaut, task, method):
    x = astronaut[:, :48, :64]
    if task == "denoise":
        noisy = D.add_gaussian_noise(x, 15, gen(1), clip=True, quantize=True)
        out = classical_denoise(method, noisy, 15)
        assert psnr(out, x) > psnr(noisy, x) + 1
    elif task == "inpaint":
        mask = hole(48, 64)
        out = classical_inpaint(method, x * (1 - mask), mask)
        known = (mask == 0).expand_as(x)
        assert torch.equal(out[known], x[known])
        assert psnr(out, x) > psnr(x * (1 - mask), x) + 5  # the holes are filled, not left black
    elif task == "sr":
        out = classical_upscale(method, x[:, ::2, ::2], 2)
        assert psnr(out, x) > 20
    else:
        kernel = D.gaussian_kernel(1.0)
        blurred = D.finish(D.blur(x, kernel, "reflect"))
        out = classical_deblur(method, blurred, kernel, 1)
        assert psnr(out, x, border=4) > psnr(blurred, x, border=4)
    assert out.shape == x.shape and out.dtype == torch.float32 and out.min() >= 0 and out.max() <= 1
    gray = x[:1]
    single = {"denoise": lambda: classical_denoise(method, gray, 15),
              "inpaint": lambda: classical_inpaint(method, gray, hole(48, 64)),
              "sr": lambda: classical_upscale(method, gray, 2),
              "deblur": lambda: classical_deblur(method, gray, D.gaussian_kernel(1.0), 1)}[task]()
    assert single.shape == ((1, 96, 128) if task == "sr" else (1, 48, 64))


def test_unknown_methods_name_the_accepted_ones(camera):
    x = camera[:, :32, :32]
    with pytest.raises(PixelsmithError, match="accepted: bm3d, nlm, tv, wavelet"):
        classical_denoise("magic", x, 10)
    with pytest.raises(PixelsmithError, match="accepted: telea, ns, biharmonic"):
        classical_inpaint("magic", x, hole(32, 32))
    with pytest.raises(PixelsmithError, match="accepted: bicubic, lanczos"):
        classical_upscale("magic", x, 2)
    with pytest.raises(PixelsmithError, match="accepted: wiener, rl"):
        classical_deblur("magic", x, D.gaussian_kernel(1.0))


def test_bm3d_denoises_gray_and_colour(camera, astronaut):
    clean = camera[:, 200:264, 200:264]
    noisy = D.add_gaussian_noise(clean, 25, gen(0))
    assert psnr(classical_denoise("bm3d", noisy, 25), clean) > psnr(noisy, clean) + 3
    noisy = D.add_gaussian_noise(astronaut[:, :64, :64], 25, gen(0))
    assert psnr(classical_denoise("bm3d", noisy, 25), astronaut[:, :64, :64]) > psnr(noisy, astronaut[:, :64, :64]) + 3
    with pytest.raises(PixelsmithError, match="at least 16x16"):
        classical_denoise("bm3d", clean[:, :8, :8], 25)


def test_an_unknown_level_is_estimated(camera):
    clean = camera[:, 200:264, 200:264]
    noisy = D.add_gaussian_noise(clean, 25, gen(2), clip=True, quantize=True)
    assert torch.equal(classical_denoise("tv", noisy, None), classical_denoise("tv", noisy, estimate_sigma(noisy)))
    assert abs(estimate_sigma(noisy) - 25) < 3


def test_noise_estimate_leaves_out_clipped_regions():
    """On unclipped noise the estimate is scikit-image's; on a file (clipped, 8-bit noise) it leaves out what
    clipping flattened (the astronaut's black suit and white sky) and reads the true level within 8%, where
    scikit-image's reads 13-20% low (measured at sigma 30: 25.5-26.0 against 29.4-30.2)."""
    from skimage import data
    from skimage.restoration import estimate_sigma as skimage_estimate

    image = torch.from_numpy(data.astronaut().copy()).permute(2, 0, 1).float() / 255.0
    for sigma in (30, 50):
        unclipped = D.add_gaussian_noise(image, sigma, gen(3))
        assert not in_unit_range(unclipped)
        theirs = np.array(skimage_estimate(unclipped.double().numpy(), channel_axis=0, average_sigmas=False)) * 255
        assert np.allclose(estimate_sigmas(unclipped), theirs, atol=1e-9)
        clipped = D.add_gaussian_noise(image, sigma, gen(3), clip=True, quantize=True)
        assert in_unit_range(clipped)
        theirs = np.array(skimage_estimate(clipped.double().numpy(), channel_axis=0, average_sigmas=False)) * 255
        ours = np.array(estimate_sigmas(clipped))
        assert (np.abs(ours / sigma - 1) < 0.08).all() and (theirs < 0.88 * sigma).all(), (ours, theirs)


def test_a_flat_channel_has_level_zero_not_nan(astronaut):
    image = astronaut.clone()
    image[2] = 0  # every detail zero
    levels = estimate_sigmas(image)
    assert len(levels) == 3 and levels[2] == 0 and all(np.isfinite(levels))


def test_wavelet_denoising_of_a_flat_image_is_the_image():
    """BayesShrink divides by each band's spread; a flat image (every band zero) must not come back as NaN."""
    from pixelsmith.baselines import wavelet_denoise

    for channels, sigma in [(1, 0.0), (3, 10.0)]:
        flat = torch.full((channels, 32, 32), 0.5)
        assert torch.equal(wavelet_denoise(flat, sigma), flat)


def test_a_large_image_is_estimated_on_blocks_close_to_the_whole(camera, monkeypatch):
    """The block grid (here forced on a 256x256 image) reads the same level as the whole image, on unclipped
    noise and on a file's clipped noise."""
    import pixelsmith.baselines as B

    for clip in (False, True):
        noisy = D.add_gaussian_noise(camera[:, :256, :256], 20, gen(4), clip=clip, quantize=clip)
        whole = estimate_sigmas(noisy)[0]
        monkeypatch.setattr(B, "SIGMA_PIXELS", 4 * 64 * 64)
        monkeypatch.setattr(B, "SIGMA_BLOCK", 64)
        assert len(B._blocks(noisy[0].numpy())) == 4
        blocks = estimate_sigmas(noisy)[0]
        monkeypatch.undo()
        assert blocks != whole and abs(blocks / whole - 1) < 0.1 and abs(blocks - 20) < 3, (blocks, whole)
