import pytest
import torch
import torch.nn.functional as F

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.degradations import add_gaussian_noise
from pixelsmith.metrics import psnr
from pixelsmith.pipelines import denoise, generate, run_tiled, save_samples
from pixelsmith.pipelines.restore import apply_model, load_restorer
from pixelsmith.pipelines.tiling import ALL, ROTATIONS


def blur(x):
    """A local operator with a 5x5 footprint, so tiles with enough overlap must match the whole image."""
    return F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), 5, stride=1)


@pytest.mark.parametrize("shape", [(1, 1, 300, 217), (1, 3, 129, 400), (1, 1, 64, 64)])
def test_tiled_equals_whole_for_local_operator(shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    tiled = run_tiled(blur, x, tile=64, overlap=16)
    assert tiled.shape == x.shape
    assert (tiled - blur(x)).abs().max() < 1e-5


def test_tiling_bad_overlap():
    with pytest.raises(UsageError, match="overlap"):
        run_tiled(blur, torch.rand(1, 1, 100, 100), tile=64, overlap=40)


@pytest.mark.parametrize("size", [(192, 256), (200, 260)])
def test_bundled_denoiser_tiled_matches_whole(camera, size):
    """Tiles of 128 px with 32 px of overlap against the whole image at once. Seams stay within a few grey
    levels; on a size that is not a multiple of the U-Net's 16 the whole image is reflect-padded inside the
    model while the border tiles are not, so the outermost pixels differ more (0.13 measured; mean 1.0e-3
    against 1.8e-4 on 192x256)."""
    model = load_restorer("denoise")
    h, w = size
    noisy = add_gaussian_noise(camera[:, :h, :w], 25, torch.Generator().manual_seed(0))
    cond = torch.full_like(noisy, 25 / 255)
    whole = apply_model(model, noisy, cond, bf16=False, tile=1024)
    tiled = apply_model(model, noisy, cond, bf16=False, tile=128, overlap=32)
    diff = (whole - tiled).abs()
    assert tiled.shape == whole.shape == noisy.shape
    assert diff.mean() < (1e-3 if h % 16 == 0 else 2e-3)
    assert diff[:, 4:-4, 4:-4].max() < 0.05  # no visible seam (measured 0.012 and 0.019)
    assert not torch.equal(whole, tiled)  # it really ran in tiles


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_bundled_denoiser_beats_noisy_and_nlm(camera, sigma):
    clean = camera[:, 128:384, 128:384]
    noisy = add_gaussian_noise(clean, sigma, torch.Generator().manual_seed(sigma), clip=True, quantize=True)
    ours = psnr(denoise(noisy), clean).item()
    nlm = psnr(denoise(noisy, "nlm", sigma=sigma), clean).item()
    assert ours > psnr(noisy, clean).item() + 5
    assert ours > nlm


def test_denoiser_color_and_bf16(camera):
    clean = torch.stack([camera[0, :96, :96], camera[0, 96:192, :96], camera[0, :96, 96:192]])
    noisy = add_gaussian_noise(clean, 25, torch.Generator().manual_seed(1))
    fp32, bf16 = denoise(noisy, bf16=False), denoise(noisy, bf16=True)
    assert fp32.shape == (3, 96, 96)
    assert psnr(fp32, clean) > psnr(noisy, clean) + 4
    assert abs(psnr(fp32, clean) - psnr(bf16, clean)) < 0.2  # bf16 autocast holds accuracy


def test_denoise_bad_arguments(camera):
    with pytest.raises(UsageError, match="sigma=300"):
        denoise(camera, "bm3d", sigma=300)
    with pytest.raises(UsageError, match="accepted: model, dip, bm3d, nlm, tv, wavelet"):
        denoise(camera, "magic")
    with pytest.raises(UsageError, match="not a model for denoise"):
        load_restorer("denoise", "dcgan-mnist")
    with pytest.raises(UsageError, match="unknown task 'paint'"):
        load_restorer("paint")


def test_bm3d_baseline_denoises(camera):
    clean = camera[:, 200:264, 200:264]
    noisy = add_gaussian_noise(clean, 25, torch.Generator().manual_seed(0))
    assert psnr(denoise(noisy, "bm3d", sigma=25), clean) > psnr(noisy, clean) + 3


def test_generate_is_seeded_and_varied():
    a, b, c = generate("dcgan-mnist", 16, seed=3), generate("dcgan-mnist", 16, seed=3), generate("dcgan-mnist", 16, seed=4)
    assert a.shape == (16, 1, 28, 28) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a[:8] - a[8:]).abs().mean() > 0.05  # not one image repeated (mode collapse)
    with pytest.raises(UsageError, match="at least 1"):
        generate("dcgan-mnist", 0)
    with pytest.raises(UsageError, match="generative model"):
        generate("resunet-denoise-gray", 2)


def test_save_samples_refuses_overwrite(tmp_path):
    images = torch.rand(4, 1, 28, 28)
    paths = save_samples(images, tmp_path / "out", tmp_path / "grid.png")
    assert [p.name for p in paths] == ["000000.png", "000001.png", "000002.png", "000003.png"]
    assert (tmp_path / "grid.png").is_file()
    with pytest.raises(PixelsmithError, match="exists"):
        save_samples(images, tmp_path / "out")


def test_self_ensemble_is_close_and_not_worse(camera):
    clean = camera[:, 256:352, 256:384]
    noisy = add_gaussian_noise(clean, 25, torch.Generator().manual_seed(5))
    plain, ens = denoise(noisy, bf16=False, ensemble=False), denoise(noisy, bf16=False)  # default: 4 rotations
    assert not torch.equal(plain, ens) and (plain - ens).abs().mean() < 0.01
    assert psnr(ens, clean) > psnr(plain, clean)


def test_views_average_every_flip_and_rotation_given(camera):
    """views=ALL (and ROTATIONS) on a non-square image is the mean of the model on those flips/rotations, each
    undone; a view outside 0-7 or no view is refused."""
    from pixelsmith.nn import dihedral

    model = load_restorer("denoise")
    noisy = add_gaussian_noise(camera[:, :64, :96], 25, torch.Generator().manual_seed(1))
    cond = torch.full_like(noisy, 25 / 255)
    by_hand = torch.stack([dihedral(apply_model(model, dihedral(noisy, k), dihedral(cond, k), bf16=False), k,
                                    inverse=True) for k in range(8)])
    assert torch.allclose(apply_model(model, noisy, cond, bf16=False, views=ALL), by_hand.mean(0), atol=1e-5)
    assert torch.allclose(apply_model(model, noisy, cond, bf16=False, views=ROTATIONS), by_hand[:4].mean(0),
                          atol=1e-5)
    for views in ((), (0, 8), 4):
        with pytest.raises(UsageError, match="accepted: a non-empty tuple of nn.dihedral indices 0-7"):
            apply_model(model, noisy, cond, views=views)
