"""Sampling (pipelines.generate): seeded and varied samples from a generative model, its sampling options
passed through, batches, sample files and grids that never overwrite, and models that cannot generate."""

import pytest
import torch

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.io import read_image
from pixelsmith.pipelines.generate import generate, make_grid, save_samples


def test_generate_is_seeded_and_varied():
    a, b, c = (generate("dcgan-mnist", 16, seed=s) for s in (3, 3, 4))
    assert a.shape == (16, 1, 28, 28) and a.dtype == torch.float32 and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a[:8] - a[8:]).abs().mean() > 0.05  # not one image repeated (mode collapse)


def test_batches_give_every_image_asked_for():
    images = generate("dcgan-mnist", 10, seed=1, batch_size=4)
    assert images.shape == (10, 1, 28, 28)
    assert all((images[i] - images[j]).abs().mean() > 0.01 for i in range(10) for j in range(i))  # no batch twice


def test_sampling_options_reach_the_model():
    flat = generate("dcgan-mnist", 4, seed=2, temperature=0)
    assert torch.equal(flat, flat[:1].expand_as(flat))  # zero latents: one image
    assert not torch.equal(generate("dcgan-mnist", 4, seed=2, temperature="0.5"), generate("dcgan-mnist", 4, seed=2))
    with pytest.raises(UsageError, match="steps=10: this model takes no sampling option 'steps'; accepted: "
                                         "temperature"):
        generate("dcgan-mnist", 2, steps=10)


def test_a_model_object_is_sampled_as_it_is():
    from pixelsmith.registry import create_model

    model = create_model("dcgan", latent_dim=8, width=8).eval()
    assert torch.equal(generate(model, 3, seed=5), generate(model, 3, seed=5))


def test_what_cannot_be_generated_is_a_usage_error():
    with pytest.raises(UsageError, match="n=0: the number of images must be at least 1"):
        generate("dcgan-mnist", 0)
    with pytest.raises(UsageError, match="model=resunet-denoise-gray is a 'restore' model; generating needs a "
                                         "generative model"):
        generate("resunet-denoise-gray", 2)


def test_save_samples_refuses_overwrite(tmp_path):
    images = torch.rand(4, 1, 28, 28)
    paths = save_samples(images, tmp_path / "out", tmp_path / "grid.png")
    assert [p.name for p in paths] == ["000000.png", "000001.png", "000002.png", "000003.png"]
    assert torch.allclose(read_image(paths[2]).pixels, images[2], atol=1 / 255)
    assert (tmp_path / "grid.png").is_file()
    with pytest.raises(PixelsmithError, match="exists .5 file.s. would be replaced.; pass overwrite=True"):
        save_samples(images, tmp_path / "out", tmp_path / "grid.png")
    assert len(save_samples(images[:2] * 0, tmp_path / "out", overwrite=True)) == 2
    assert read_image(paths[0]).pixels.max() == 0


@pytest.mark.parametrize("channels", [1, 3])
def test_grid_is_square_by_default_and_keeps_the_channels(channels):
    grid = make_grid(torch.zeros(9, channels, 28, 28))
    assert grid.shape == (channels, 3 * 28 + 4 * 2, 3 * 28 + 4 * 2)
    assert grid.max() == 1 and grid[:, 2:30, 2:30].max() == 0  # white padding around the images
    assert make_grid(torch.zeros(8, 1, 28, 28), nrow=8).shape == (1, 32, 8 * 28 + 9 * 2)
