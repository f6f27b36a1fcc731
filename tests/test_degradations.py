"""The forward models: every degradation is reproducible from its generator and does what its name says."""

import math

import numpy as np
import pytest
import torch
from conftest import gen
from PIL import Image

from pixelsmith import PixelsmithError, UsageError
from pixelsmith import degradations as D


# ---- noise ---------------------------------------------------------------------------------------------
def test_gaussian_noise_level_and_seed():
    flat = torch.full((1, 128, 128), 0.5)
    a, b, c = (D.add_gaussian_noise(flat, 20, gen(s)) for s in (1, 1, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs((a - flat).std() * 255 - 20) < 0.6 and abs((a - flat).mean() * 255) < 0.5
    assert torch.equal(D.add_gaussian_noise(flat, 0, gen()), flat)


def test_gaussian_noise_per_image_and_map():
    batch = torch.full((3, 1, 96, 96), 0.5)
    noisy = D.add_gaussian_noise(batch, torch.tensor([5.0, 15.0, 40.0]), gen())
    stds = (noisy - batch).flatten(1).std(1) * 255
    assert torch.allclose(stds, torch.tensor([5.0, 15.0, 40.0]), rtol=0.05)
    level = torch.cat([torch.full((1, 96, 48), 10.0), torch.full((1, 96, 48), 30.0)], -1)  # a spatial map
    noise = (D.add_gaussian_noise(batch[0], level, gen()) - batch[0]) * 255
    assert abs(noise[..., :48].std() - 10) < 0.5 and abs(noise[..., 48:].std() - 30) < 1.5


def test_clip_and_quantize_give_file_values():
    x = torch.rand(1, 40, 40, generator=gen(3))
    out = D.add_gaussian_noise(x, 50, gen(), clip=True, quantize=True)
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out * 255, (out * 255).round())
    raw = D.add_gaussian_noise(x, 50, gen())
    assert raw.min() < 0 and raw.max() > 1  # the literature's protocol keeps out-of-range values


def test_poisson_gaussian_noise_variance_follows_the_signal():
    """Shot noise has variance x / peak (plus read noise): twice as bright, sqrt(2)x as noisy."""
    flat = torch.cat([torch.full((1, 128, 64), 0.2), torch.full((1, 128, 64), 0.8)], -1)
    noisy = D.add_poisson_gaussian_noise(flat, 30.0, 0.0, gen(), clip=False, quantize=False)
    dark, bright = (noisy - flat)[..., :64], (noisy - flat)[..., 64:]
    assert abs(dark.std() - math.sqrt(0.2 / 30)) < 0.08 * math.sqrt(0.2 / 30)
    assert abs(bright.std() - math.sqrt(0.8 / 30)) < 0.08 * math.sqrt(0.8 / 30)
    assert abs(noisy.mean() - 0.5) < 0.005  # unbiased
    with_read = D.add_poisson_gaussian_noise(flat, 30.0, 10.0, gen(), clip=False, quantize=False)
    expected = math.sqrt(0.2 / 30 + (10 / 255) ** 2)
    assert abs((with_read - flat)[..., :64].std() - expected) < 0.08 * expected
    with pytest.raises(PixelsmithError, match="peak=0"):
        D.add_poisson_gaussian_noise(flat, 0, 0)


def test_random_sigma_map():
    maps = [D.random_sigma_map(3, 32, 40, 50.0, gen(s)) for s in range(40)]
    assert all(m.shape == (3, 32, 40) and m.min() >= 0 and m.max() <= 50 for m in maps)
    assert all(torch.equal(m[0], m[2]) for m in maps)  # one level for every channel
    varying = [m for m in maps if m.std() > 0]
    assert 0 < len(varying) < len(maps)  # mostly uniform, sometimes spatially varying
    assert torch.equal(D.random_sigma_map(1, 8, 8, 50.0, gen(7)), D.random_sigma_map(1, 8, 8, 50.0, gen(7)))


def test_random_sigma_map_draws():
    def share_below_third(draw):
        levels = [D.random_sigma_map(1, 4, 4, 60.0, gen(s), varying_prob=0.0, draw=draw)[0, 0, 0] for s in range(900)]
        return sum(float(v) < 20.0 for v in levels) / len(levels)

    assert 0.27 < share_below_third("uniform") < 0.40  # every level alike: 1 in 3
    assert 0.06 < share_below_third("max") < 0.17  # the higher of two draws: 1 in 9
    with pytest.raises(PixelsmithError, match="accepted: max, uniform"):
        D.random_sigma_map(1, 4, 4, 60.0, gen(0), draw="gauss")


# ---- blur and resizing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [0.8, 1.6, 3.0])
def test_gaussian_kernel(sigma):
    k = D.gaussian_kernel(sigma)
    size = 2 * math.ceil(3 * sigma) + 1
    assert k.shape == (size, size) and abs(k.sum() - 1) < 1e-6
    assert torch.allclose(k, k.flip(0)) and torch.allclose(k, k.T)  # isotropic and centred
    r = torch.arange(size) - size // 2
    variance = (k.sum(0) * r**2).sum()  # second moment of one axis
    assert abs(variance - sigma**2) < 0.05 * sigma**2  # truncated at 3 sigma: within 3%
    with pytest.raises(PixelsmithError, match="sigma=0"):
        D.gaussian_kernel(0)


def test_motion_kernel_is_a_line():
    horizontal = D.motion_kernel(9, 0)
    assert horizontal.shape == (9, 9) and abs(horizontal.sum() - 1) < 1e-6
    assert horizontal[4].sum() > 0.85 and horizontal[4].min() > 0  # along the middle row, end to end
    assert D.motion_kernel(9, 90)[:, 4].sum() > 0.85
    diagonal = D.motion_kernel(15, 45)
    assert abs(diagonal.sum() - 1) < 1e-6 and diagonal.shape == (15, 15)
    assert torch.allclose(diagonal, diagonal.T, atol=0.02)  # mirror image across the line's normal
    assert diagonal[:7, 8:].sum() > 0.4 and diagonal[:7, :7].sum() == 0  # 45 degrees: up and to the right
    assert torch.allclose(D.motion_kernel(9, -30), D.motion_kernel(9, 30).flip(0), atol=0.02)
    with pytest.raises(PixelsmithError, match="length=0.5"):
        D.motion_kernel(0.5, 0)


@pytest.mark.parametrize("angle", [0, 30, 45, 90, 135, 180])
def test_motion_kernel_is_centred(angle):
    """A line through the centre is symmetric under a half turn, so blurring with it must not move the image.
    (Pillow's thick lines fall 1/8 px off the centre: a 0.125 px shift measured at 0 degrees.)"""
    k = D.motion_kernel(9, angle)
    r = torch.arange(9.0) - 4
    row, col = (k.sum(1) * r).sum(), (k.sum(0) * r).sum()
    assert abs(row) < 0.02 and abs(col) < 0.02
    assert torch.allclose(k, k.flip(0, 1), atol=2e-3)


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate"])
def test_blur_with_delta_is_identity_and_preserves_constants(mode):
    x = torch.rand(2, 3, 20, 24, generator=gen())
    delta = torch.zeros(5, 5)
    delta[2, 2] = 1
    assert torch.allclose(D.blur(x, delta, mode), x, atol=1e-6)
    assert torch.allclose(D.blur(x[0], delta, mode), x[0], atol=1e-6)  # (C,H,W) works too
    flat = torch.full((1, 16, 16), 0.3)
    assert torch.allclose(D.blur(flat, D.motion_kernel(7, 30), mode), flat, atol=1e-6)


def test_blur_is_a_true_convolution():
    """An off-centre impulse kernel moves the image the way the impulse points (convolution, not correlation)."""
    x = torch.rand(1, 12, 15, generator=gen())
    shift = torch.zeros(3, 3)
    shift[1, 2] = 1  # one pixel right of the centre
    assert torch.allclose(D.blur(x, shift, "circular"), torch.roll(x, 1, dims=-1), atol=1e-6)
    shift = torch.zeros(3, 3)
    shift[0, 1] = 1  # one pixel above the centre
    assert torch.allclose(D.blur(x, shift, "circular"), torch.roll(x, -1, dims=-2), atol=1e-6)
    with pytest.raises(PixelsmithError, match="odd sides"):
        D.blur(x, torch.ones(2, 3) / 6)


def test_blur_removes_detail(camera):
    crop = camera[:, 100:164, 200:264]
    blurred = D.blur(crop, D.gaussian_kernel(2.0), mode="reflect")

    def detail(t):
        return (t[..., 1:] - t[..., :-1]).abs().mean()

    assert detail(blurred) < 0.5 * detail(crop)
    assert abs(blurred.mean() - crop.mean()) < 0.01


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_downscale_and_upscale_shapes(scale):
    x = torch.rand(2, 3, 50, 61, generator=gen())
    small = D.bicubic_downscale(x, scale)
    assert small.shape == (2, 3, 50 // scale, 61 // scale)  # cropped to a multiple of the scale first
    assert D.bicubic_downscale(x[0], scale).shape == (3, 50 // scale, 61 // scale)
    flat = torch.full((1, 48, 48), 0.4)
    assert torch.allclose(D.bicubic_downscale(flat, scale), torch.full((1, 48 // scale, 48 // scale), 0.4), atol=1e-5)
    big = D.bicubic_upscale(small, scale)
    assert big.shape == (2, 3, 50 // scale * scale, 61 // scale * scale) and big.min() >= 0 and big.max() <= 1
    assert D.bicubic_upscale(small[0], scale, size=(7, 9)).shape == (3, 7, 9)


def test_bicubic_downscale_antialiases():
    """A checkerboard at the Nyquist frequency must vanish, not alias into a pattern."""
    board = (torch.arange(64)[:, None] + torch.arange(64)[None, :]) % 2
    small = D.bicubic_downscale(board.float()[None], 2)
    assert (small[:, 4:-4, 4:-4] - 0.5).abs().max() < 0.02


def test_jpeg_quality_controls_the_error(astronaut):
    errors = {q: (D.jpeg_compress(astronaut, q) - astronaut).abs().mean().item() for q in (10, 50, 95)}
    assert errors[95] < 0.01
    assert errors[10] > errors[50] > errors[95]
    assert errors[10] > 3 * errors[95]
    gray = D.jpeg_compress(astronaut[:1], 30)
    assert gray.shape == (1, 96, 128)
    out = D.jpeg_compress(astronaut, 30)
    assert out.shape == astronaut.shape and torch.equal(out * 255, (out * 255).round())  # decoded 8-bit values
    with pytest.raises(PixelsmithError, match="quality 0 is out of range"):
        D.jpeg_compress(astronaut, 0)


# ---- masks ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["strokes", "box", "pixels", "text"])
def test_masks_are_binary_seeded_and_partial(kind):
    for seed in range(5):
        mask = D.MASKS[kind](72, 96, gen(seed))
        assert mask.shape == (1, 72, 96) and mask.dtype == torch.float32
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        assert 0 < mask.mean() < 0.9
        assert torch.equal(mask, D.MASKS[kind](72, 96, gen(seed)))
    assert not torch.equal(D.MASKS[kind](72, 96, gen(0)), D.MASKS[kind](72, 96, gen(1)))


def test_box_mask_is_one_rectangle():
    for seed in range(5):
        mask = D.box_mask(60, 80, gen(seed))[0]
        rows, cols = mask.any(1).nonzero()[:, 0], mask.any(0).nonzero()[:, 0]
        box = mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert box.min() == 1 and mask.sum() == box.numel()  # filled, nothing outside
        assert box.shape[0] <= 0.3 * 60 + 1 and box.shape[1] <= 0.3 * 80 + 1


def test_pixel_mask_fraction():
    assert abs(D.pixel_mask(100, 100, gen(), 0.3).mean() - 0.3) < 0.02


def test_random_mask_never_empty_or_full():
    for seed in range(30):
        mask = D.random_mask(16, 16, gen(seed))
        assert 0 < mask.sum() < 16 * 16 and set(mask.unique().tolist()) == {0.0, 1.0}
    assert D.random_mask(4, 4, gen(), kinds=("pixels",)).shape == (1, 4, 4)


# ---- kernels from a specification ----------------------------------------------------------------------
def test_parse_kernel(tmp_path):
    assert torch.equal(D.parse_kernel("gaussian:1.5"), D.gaussian_kernel(1.5))
    assert torch.equal(D.parse_kernel("motion:9:30"), D.motion_kernel(9, 30))
    array = np.zeros((5, 3), np.uint8)
    array[1:4, 1] = 200
    Image.fromarray(array).save(tmp_path / "k.png")
    k = D.parse_kernel(str(tmp_path / "k.png"))
    assert k.shape == (5, 3) and abs(k.sum() - 1) < 1e-6 and torch.allclose(k[1:4, 1], torch.full((3,), 1 / 3))
    Image.fromarray(np.full((4, 3), 255, np.uint8)).save(tmp_path / "even.png")
    with pytest.raises(UsageError, match="odd sides"):
        D.parse_kernel(str(tmp_path / "even.png"))
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(UsageError, match="non-zero sum"):
        D.parse_kernel(str(tmp_path / "black.png"))
    for spec in ("gaussian", "gaussian:x", "motion:9", "box:3", str(tmp_path / "none.png")):
        with pytest.raises(UsageError, match=f"kernel={spec} is not a kernel; accepted: gaussian:SIGMA"):
            D.parse_kernel(spec)


@pytest.mark.parametrize("spec", ["gaussian:-1", "gaussian:0", "motion:0:30", "gaussian:100000", "gaussian:nan",
                                  "motion:9:inf"])
def test_impossible_kernels_are_usage_errors(spec):
    """Kernels that cannot be built, or would not fit in memory, are refused as options (exit status 2), as
    a kernel image over 101 px is."""
    with pytest.raises(UsageError, match=f"kernel={spec}"):
        D.parse_kernel(spec)
