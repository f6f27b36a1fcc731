"""pixelsmith.precision: bf16 autocast only where the processor computes bf16 natively; PIXELSMITH_BF16 forces it."""

import pytest
import torch

from pixelsmith import precision


@pytest.mark.parametrize("forced,expected", [("1", True), ("0", False)])
def test_the_environment_forces_the_choice(monkeypatch, forced, expected):
    monkeypatch.setenv("PIXELSMITH_BF16", forced)
    precision.native_bf16.cache_clear()
    try:
        assert precision.native_bf16() is expected
        x = torch.rand(2, 3)
        with precision.autocast():
            y = torch.nn.functional.linear(x, torch.rand(4, 3))
        assert y.dtype == (torch.bfloat16 if expected else torch.float32)
        with precision.autocast(enabled=False):
            assert torch.nn.functional.linear(x, torch.rand(4, 3)).dtype == torch.float32
    finally:
        monkeypatch.delenv("PIXELSMITH_BF16")
        precision.native_bf16.cache_clear()


def test_the_default_follows_the_processor(monkeypatch):
    monkeypatch.delenv("PIXELSMITH_BF16", raising=False)
    precision.native_bf16.cache_clear()
    assert precision.native_bf16() is bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
