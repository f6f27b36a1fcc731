import torch

from pixelsmith.nn import GatedConv2d, ResBlock, dihedral, pad_to_multiple


def test_dihedral_inverse_and_distinct():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    outputs = [dihedral(x, k) for k in range(8)]
    for k, y in enumerate(outputs):
        assert torch.equal(dihedral(y, k, inverse=True), x)
    assert len({tuple(y.flatten().tolist()) + tuple(y.shape) for y in outputs}) == 8


def test_pad_to_multiple_reflects_and_reports_size():
    x = torch.rand(2, 3, 17, 9)
    padded, size = pad_to_multiple(x, 8)
    assert padded.shape == (2, 3, 24, 16) and size == (17, 9)
    assert torch.equal(padded[..., :17, :9], x)
    tiny, _ = pad_to_multiple(torch.rand(1, 1, 1, 1), 8)  # too small to reflect: replicated
    assert tiny.shape == (1, 1, 8, 8)


def test_resblock_starts_as_identity_and_is_scale_equivariant():
    block = ResBlock(4)
    x = torch.randn(1, 4, 8, 8)
    assert torch.equal(block(x), x)
    torch.nn.init.normal_(block.conv2.weight)
    assert torch.allclose(block(3 * x), 3 * block(x), atol=1e-5)  # bias-free + ReLU: positively homogeneous


def test_gated_conv_multiplies_features_by_a_sigmoid_gate():
    conv = GatedConv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 9, 11)
    assert conv(x).shape == (2, 4, 9, 11)
    with torch.no_grad():
        conv.conv.weight[4:] = 0  # gate logits 0 everywhere: sigmoid 1/2
        features = torch.nn.functional.conv2d(x, conv.conv.weight[:4], padding=1)
        assert torch.allclose(conv(x), features / 2, atol=1e-6)
        conv.conv.weight[4:, :, 1, 1] = -1000  # a strongly negative gate closes the output where x > 0
        closed = conv(x.abs() + 0.1)
    assert closed.abs().max() < 1e-6


def test_gated_resblock_starts_as_identity():
    block = ResBlock(4, gated=True)
    x = torch.randn(1, 4, 8, 8)
    assert isinstance(block.conv1, GatedConv2d) and torch.equal(block(x), x)


def test_pull_push_fill_keeps_known_pixels_and_fills_holes_smoothly():
    from pixelsmith.nn import pull_push_fill

    h, w = 37, 53  # odd sizes: the pyramid must round up
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    ramp = (0.2 + 0.5 * xx + 0.2 * yy)[None, None].repeat(1, 2, 1, 1)
    hole = torch.zeros(1, 1, h, w)
    hole[..., 10:25, 15:40] = 1
    filled = pull_push_fill(ramp * (1 - hole), hole)
    assert filled.shape == ramp.shape
    assert torch.equal(filled[(hole == 0).expand_as(ramp)], ramp[(hole == 0).expand_as(ramp)])
    inside = (hole > 0).expand_as(ramp)
    error = (filled[inside] - ramp[inside]).abs()
    assert error.mean() < 0.03 and error.max() < 0.1  # close to the ramp it interrupts (range 0.2-0.9)
    assert filled[inside].min() >= ramp.min() - 1e-6 and filled[inside].max() <= ramp.max() + 1e-6
    # a constant image is filled with that constant, and a missing 70% of random pixels is no problem
    g = torch.Generator().manual_seed(0)
    sparse = (torch.rand(1, 1, h, w, generator=g) < 0.7).float()
    assert (pull_push_fill(torch.full((1, 3, h, w), 0.4) * (1 - sparse), sparse) - 0.4).abs().max() < 1e-6


def test_channels_last_gives_one_channel_tensors_nhwc_strides():
    """contiguous(memory_format=channels_last) leaves a 1-channel tensor with NCHW strides; convolutions then
    run in NCHW. The helper gives real NHWC strides, so the convolution's output is channels_last too."""
    from pixelsmith.nn import channels_last

    x = torch.rand(2, 1, 12, 10)
    assert x.contiguous(memory_format=torch.channels_last).stride(1) != 1
    y = channels_last(x)
    assert y.stride(1) == 1 and torch.equal(y, x)
    conv = torch.nn.Conv2d(1, 4, 3, padding=1).to(memory_format=torch.channels_last)
    assert conv(y).is_contiguous(memory_format=torch.channels_last) and conv(y).stride(1) == 1
    already = channels_last(torch.rand(1, 3, 8, 8))
    assert channels_last(already) is already
