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
