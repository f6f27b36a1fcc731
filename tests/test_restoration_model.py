"""The residual U-Net restorer (pixelsmith.models.restoration): its variants (noise-map, colour, gated inpainter,
blocks per level), what its conditioning map must be, the inpainter's guarantees, and how it starts from another
ResUNet's weights (hub.transplant through source_name / adapt_parameter)."""

import pytest
import torch
from conftest import gen

from pixelsmith import PixelsmithError
from pixelsmith.hub import from_pretrained, save_pretrained, transplant
from pixelsmith.registry import create_model

SMALL = {"widths": [8, 16, 32], "blocks": 1}
VARIANTS = {
    "gray-blind": {},
    "gray-noise-map": {"cond_channels": 1},
    "colour-noise-map": {"channels": 3, "cond_channels": 3},
    "gated-inpainter": {"channels": 3, "cond_channels": 1, "gated": True, "inpaint": True},
    "blocks-per-level": {"blocks": [2, 1, 3], "cond_channels": 1},
}


def perturb(model):
    """Non-zero weights everywhere (the zero-initialised tail included), so a dead path shows."""
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    return model


def build(**args):
    return create_model("resunet", **{**SMALL, **args})


def inputs(model, n=2, h=37, w=45, seed=0):
    g = gen(seed)
    x = torch.rand(n, model.channels, h, w, generator=g)
    if not model.cond_channels:
        return (x,)
    cond = torch.rand(n, model.cond_channels, h, w, generator=g)
    return x, (cond > 0.6).float() if model.inpaint else cond


@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_variant_keeps_shapes_and_passes_gradients(args):
    model = perturb(build(**args))
    batch = inputs(model)
    out = model(*batch)
    assert out.shape == batch[0].shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    out.square().mean().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead, dead
    if model.cond_channels and not model.inpaint:  # the map is an input the output depends on
        with torch.no_grad():
            assert (model(batch[0], batch[1]) - model(batch[0], 1 - batch[1])).abs().max() > 1e-4


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_untrained_model_is_the_identity_in_any_dtype(dtype):
    """The last convolution starts at zero: no degradation predicted, the input comes back exactly."""
    model = build(cond_channels=1).to(dtype)
    x = torch.rand(1, 1, 21, 34, dtype=dtype)
    out = model(x, torch.full_like(x, 0.1))
    assert out.dtype == dtype and torch.equal(out, x)


def test_conditioned_model_needs_its_map():
    model = build(cond_channels=2)
    with pytest.raises(PixelsmithError, match="2-channel conditioning map"):
        model(torch.rand(1, 1, 32, 32))
    with pytest.raises(PixelsmithError, match="2-channel conditioning map"):
        model(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))
    with pytest.raises(PixelsmithError, match="of the image's size"):
        model(torch.rand(1, 1, 32, 32), torch.rand(1, 2, 16, 16))
    with pytest.raises(PixelsmithError, match="one conditioning channel"):
        build(cond_channels=2, inpaint=True)
    with pytest.raises(PixelsmithError, match="blocks=\\[2, 1\\]: give one count"):
        create_model("resunet", widths=[8, 16, 32], blocks=[2, 1])
    with pytest.raises(PixelsmithError, match="blocks=\\[0, 1, 1\\]"):
        create_model("resunet", widths=[8, 16, 32], blocks=[0, 1, 1])


def test_inpainting_model_keeps_known_pixels_and_ignores_the_holes():
    model = perturb(build(**VARIANTS["gated-inpainter"])).eval()
    g = gen(1)
    x = torch.rand(1, 3, 40, 52, generator=g)
    mask = torch.zeros(1, 1, 40, 52)
    mask[..., 10:25, 5:30] = 1
    other = torch.where(mask > 0, torch.rand(x.shape, generator=g), x)  # different content under the hole
    with torch.no_grad():
        a, b = model(x, mask), model(other, mask)
    known = (mask == 0).expand_as(x)
    assert torch.equal(a[known], x[known])  # exactly, not approximately
    assert (a - b).abs().max() < 1e-4  # what lies under the hole does not leak into the result
    assert (a[~known] - x[~known]).abs().mean() > 0.01  # the hole is filled with something new
    # ... except where the input has no known pixel at all: then the input's own values are the starting fill
    everywhere = torch.ones(1, 1, 40, 52)
    with torch.no_grad():
        grey, white = model(torch.full_like(x, 0.5), everywhere), model(torch.ones_like(x), everywhere)
    assert (white - grey).mean() > 0.3


# ---- starting from another ResUNet (transplant) --------------------------------------------------------
def saved(tmp_path, **args):
    save_pretrained(perturb(build(**args)).eval(), tmp_path / "source")
    return from_pretrained(tmp_path / "source")


def test_transplant_gray_into_conditioned_and_colour_models(tmp_path):
    """New conditioning inputs start at zero and gray weights are shared by the colours, so the new model
    starts out computing exactly what the old one did."""
    gray = saved(tmp_path)
    x = torch.rand(2, 1, 48, 64, generator=gen(2))
    cond = torch.rand(2, 1, 48, 64, generator=gen(3))
    with torch.no_grad():
        reference = gray(x)
        conditioned = transplant(gray, build(cond_channels=1)).eval()
        assert torch.equal(conditioned(x, cond), reference)
        colour = transplant(gray, build(channels=3, cond_channels=3)).eval()
        out = colour(x.expand(-1, 3, -1, -1), cond.expand(-1, 3, -1, -1))
    assert out.shape == (2, 3, 48, 64)
    assert all((out[:, c:c + 1] - reference).abs().max() < 1e-5 for c in range(3))  # gray in, same gray out


def test_transplant_keeps_an_existing_condition(tmp_path):
    source = saved(tmp_path, cond_channels=1)
    x = torch.rand(1, 1, 32, 48, generator=gen(4))
    cond = torch.rand(1, 1, 32, 48, generator=gen(5))
    colour = transplant(source, build(channels=3, cond_channels=1)).eval()
    with torch.no_grad():
        assert (colour(x.expand(-1, 3, -1, -1), cond) - source(x, cond)).abs().max() < 1e-5
        # the map still matters: the source's conditioning weights were carried over, not zeroed
        assert (colour(x.expand(-1, 3, -1, -1), cond) - colour(x.expand(-1, 3, -1, -1), 1 - cond)).abs().max() > 1e-3


def test_transplant_plain_into_gated_computes_the_same_function(tmp_path):
    """A plain convolution W becomes a gated one with features 2W and a zero gate: the same output."""
    source = saved(tmp_path, cond_channels=1)
    x = torch.rand(1, 1, 32, 48, generator=gen(6))
    cond = torch.rand(1, 1, 32, 48, generator=gen(7))
    gated = transplant(source, build(cond_channels=1, gated=True)).eval()
    assert any(name.endswith(".conv.weight") for name in gated.state_dict())
    with torch.no_grad():
        assert (gated(x, cond) - source(x, cond)).abs().max() < 1e-5


def test_inpainting_model_started_from_a_denoiser_returns_the_smooth_fill(tmp_path):
    """The denoiser's noise-map input does not carry over to the hole mask (another meaning), and on a smooth
    fill of its own holes the network starts close to that fill."""
    from pixelsmith.nn import pull_push_fill

    source = saved(tmp_path, cond_channels=1)
    model = transplant(source, build(**VARIANTS["gated-inpainter"])).eval()
    assert model.state_dict()["head.conv.weight"][:, 12:].abs().max() == 0  # mask channel starts at zero
    x = torch.rand(1, 1, 40, 56, generator=gen(8)).expand(-1, 3, -1, -1)
    mask = torch.zeros(1, 1, 40, 56)
    mask[..., 8:30, 10:40] = 1
    with torch.no_grad():
        out = model(x, mask)
        fill = pull_push_fill(x * (1 - mask), mask)
        expected = source(fill[:, :1], torch.zeros_like(mask))  # the source denoiser applied to the fill
    assert (out[:, :1] - torch.where(mask > 0, expected, x[:, :1])).abs().max() < 1e-5


def test_transplant_into_more_blocks_computes_the_same_function(tmp_path):
    """A model grown to more residual blocks per level starts with the source's weights and identity blocks:
    the same output; then the new blocks are real parameters that change it. A model with fewer is refused."""
    source = saved(tmp_path, cond_channels=1)
    grown = transplant(source, build(blocks=[2, 3, 1], cond_channels=1)).eval()
    new = set(grown.state_dict()) - set(source.state_dict())
    assert len(new) == 6 * 2  # level 0: one new block down and one up; level 1: two and two; two convs each
    x = torch.rand(1, 1, 32, 48, generator=gen(6))
    cond = torch.rand(1, 1, 32, 48, generator=gen(7))
    with torch.no_grad():
        assert (grown(x, cond) - source(x, cond)).abs().max() < 1e-5
        grown.down_blocks[1][2].conv2.weight.normal_(0, 0.1)
        assert (grown(x, cond) - source(x, cond)).abs().max() > 1e-4
    with pytest.raises(PixelsmithError, match="'down_blocks.0.1.conv1.weight' has no place"):
        transplant(grown, build(cond_channels=1))


def test_transplant_refuses_other_widths(tmp_path):
    source = saved(tmp_path)
    with pytest.raises(PixelsmithError, match="cannot"):
        transplant(source, create_model("resunet", widths=[8, 16, 64], blocks=1))
