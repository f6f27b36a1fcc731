import torch

from pixelsmith.nn import ResBlock, dihedral, pad_to_multiple


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
