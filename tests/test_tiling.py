"""Models and functions on images of any size (pipelines.tiling): overlapping blended tiles, the self-ensemble
views, gray models on colour images, padding to the model's multiple, and the errors for a wrong input."""

import pytest
import torch
import torch.nn.functional as F
from conftest import gen

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.degradations import add_gaussian_noise
from pixelsmith.nn import dihedral
from pixelsmith.pipelines.methods import load_restorer
from pixelsmith.pipelines.tiling import ALL, FLIPS, ROTATIONS, apply_model, run_tiled


def blur(x):
    """A local operator with a 5x5 footprint, so tiles with enough overlap must match the whole image."""
    return F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), 5, stride=1)


@pytest.mark.parametrize("shape", [(1, 1, 300, 217), (1, 3, 129, 400), (2, 1, 64, 64), (1, 1, 65, 64)])
def test_tiled_equals_whole_for_a_local_operator(shape):
    x = torch.rand(shape, generator=gen(0))
    tiled = run_tiled(blur, x, tile=64, overlap=16)
    assert tiled.shape == x.shape and tiled.dtype == x.dtype
    assert (tiled - blur(x)).abs().max() < 1e-5


def test_tiles_of_an_upscaling_function_are_placed_at_scale():
    x = torch.rand(1, 2, 90, 70, generator=gen(1))

    def upscale(t):
        return F.interpolate(blur(t), scale_factor=3, mode="nearest")

    tiled = run_tiled(upscale, x, tile=32, overlap=8, scale=3)
    assert tiled.shape == (1, 2, 270, 210)
    assert (tiled - upscale(x)).abs().max() < 1e-5


def test_tiling_refuses_an_overlap_of_half_a_tile():
    with pytest.raises(UsageError, match="overlap=40 must be less than half of tile=64"):
        run_tiled(blur, torch.rand(1, 1, 100, 100), tile=64, overlap=40)


@pytest.mark.parametrize("size", [(192, 256), (200, 260)])
def test_bundled_denoiser_in_tiles_shows_no_seams(camera, size):
    """Tiles of 128 px with 32 px of overlap against the whole image at once. Seams stay within a few grey
    levels; on a size that is not a multiple of the U-Net's 16 the whole image is reflect-padded inside the
    model while the border tiles are not, so the outermost pixels differ more (0.13 measured; mean 1.0e-3
    against 1.8e-4 on 192x256)."""
    model = load_restorer("denoise")
    h, w = size
    noisy = add_gaussian_noise(camera[:, :h, :w], 25, gen(0))
    cond = torch.full_like(noisy, 25 / 255)
    events = []
    whole = apply_model(model, noisy, cond, bf16=False, tile=1024)
    tiled = apply_model(model, noisy, cond, bf16=False, tile=128, overlap=32, progress=events.append)
    assert {e.stage for e in events} == {"tiles"} and events[-1].done == events[-1].total > 1
    diff = (whole - tiled).abs()
    assert tiled.shape == whole.shape == noisy.shape
    assert diff.mean() < (1e-3 if h % 16 == 0 else 2e-3)
    assert diff[:, 4:-4, 4:-4].max() < 0.05  # no visible seam (measured 0.012 and 0.019)


def test_views_average_every_flip_and_rotation_given(camera):
    """views=ALL (and ROTATIONS, FLIPS) on a non-square image is the mean of the model on those
    flips/rotations, each undone; a view outside 0-7 or no view is refused."""
    model = load_restorer("denoise")
    noisy = add_gaussian_noise(camera[:, :64, :96], 25, gen(1))
    cond = torch.full_like(noisy, 25 / 255)
    by_hand = torch.stack([dihedral(apply_model(model, dihedral(noisy, k), dihedral(cond, k), bf16=False), k,
                                    inverse=True) for k in range(8)])
    assert torch.allclose(apply_model(model, noisy, cond, bf16=False, views=ALL), by_hand.mean(0), atol=1e-5)
    assert torch.allclose(apply_model(model, noisy, cond, bf16=False, views=ROTATIONS), by_hand[:4].mean(0),
                          atol=1e-5)
    assert torch.allclose(apply_model(model, noisy, cond, bf16=False, views=FLIPS), by_hand[list(FLIPS)].mean(0),
                          atol=1e-5)
    for views in ((), (0, 8), 4):
        with pytest.raises(UsageError, match="accepted: a non-empty tuple of nn.dihedral indices 0-7"):
            apply_model(model, noisy, cond, views=views)


def test_gray_model_runs_on_each_colour_channel(astronaut):
    net = load_restorer("denoise", "resunet-denoise-gray")
    noisy = add_gaussian_noise(astronaut, 20, gen(3))
    cond = torch.full_like(noisy, 20 / 255)
    together = apply_model(net, noisy, cond, bf16=False)
    apart = torch.cat([apply_model(net, noisy[c:c + 1], cond[c:c + 1], bf16=False) for c in range(3)])
    assert together.shape == (3, 96, 128) and together.dtype == torch.float32
    assert torch.allclose(together, apart, atol=1e-6)
    assert together.min() >= 0 and together.max() <= 1
    with pytest.raises(PixelsmithError, match="needs a 1-channel conditioning map"):
        apply_model(net, noisy)
    colour = load_restorer("denoise", "resunet-denoise-color")
    with pytest.raises(PixelsmithError, match="expects 3 channels, the image has 2"):
        apply_model(colour, noisy[:2], cond[:2])


def test_colour_model_on_a_gray_image_returns_one_channel(astronaut):
    colour = load_restorer("denoise", "resunet-denoise-color")
    gray = add_gaussian_noise(astronaut[1:2, :48, :64], 20, gen(4), clip=True)
    out = apply_model(colour, gray, torch.full_like(gray, 20 / 255), bf16=False)
    assert out.shape == (1, 48, 64)
    # it denoises (measured: mean error 0.043 against the noisy 0.062)
    assert (out - astronaut[1:2, :48, :64]).abs().mean() < 0.8 * (gray - astronaut[1:2, :48, :64]).abs().mean()


@pytest.mark.parametrize("pad", ["reflect", "replicate"])
def test_sizes_off_the_models_multiple_come_back_at_their_size(pad):
    net = load_restorer("jpeg")
    x = torch.rand(1, 33, 50, generator=gen(5))
    out = apply_model(net, x, torch.full_like(x, 0.5), bf16=False, pad=pad)
    assert out.shape == (1, 33, 50) and torch.isfinite(out).all()


@pytest.mark.parametrize("tile,overlap,multiple", [(512, 64, 16), (320, 48, 1), (128, 16, 1), (64, 8, 8)])
def test_tile_layouts_cover_the_side_with_equal_aligned_tiles(tile, overlap, multiple):
    from pixelsmith.pipelines.tiling import ALIGN, _layout

    for length in range(tile + 1, 6 * tile, 7):
        size, starts = _layout(length, tile, overlap, multiple)
        assert size <= tile and starts[0] == 0 and starts[-1] + size == length
        assert all(b - a <= size - overlap for a, b in zip(starts, starts[1:])), (length, size, starts)
        if 4 * ALIGN * multiple <= tile:
            assert size % ALIGN == 0 or size == length
        if length % multiple == 0:
            assert all(s % multiple == 0 for s in starts)
        lower = _layout(length, tile, overlap, 1)[1]
        assert len(starts) <= len(lower) + 1  # alignment costs at most one tile


def test_a_margin_as_wide_as_the_receptive_field_is_exact():
    x = torch.rand(1, 1, 150, 170, generator=gen(2))
    tiled = run_tiled(blur, x, tile=48, overlap=6, margin=2)  # blur's radius is 2
    assert (tiled - blur(x)).abs().max() < 1e-5
    with pytest.raises(UsageError, match="margin=3 must be at least 0 and less than half of overlap=6"):
        run_tiled(blur, x, tile=48, overlap=6, margin=3)
