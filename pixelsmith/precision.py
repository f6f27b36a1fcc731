"""bf16 autocast only where the processor computes bf16 natively (AVX512-BF16 or AMX on x86; any CUDA device):
there it is several times faster than float32 for convolutions, while on processors without it (AVX2 only)
oneDNN emulates bf16 about ten times slower than float32, so float32 is used instead. PIXELSMITH_BF16=1 or 0
forces either choice."""

from __future__ import annotations

import functools
import os
from contextlib import nullcontext

import torch


@functools.lru_cache(maxsize=None)
def native_bf16(device_type: str = "cpu") -> bool:
    """Whether bf16 autocast speeds up convolutions on ``device_type``."""
    forced = os.environ.get("PIXELSMITH_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    if device_type != "cpu":
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast(enabled: bool = True, device_type: str = "cpu"):
    """A bf16 autocast context when ``enabled`` and :func:`native_bf16`; otherwise one that does nothing."""
    if enabled and native_bf16(device_type):
        return torch.autocast(device_type, dtype=torch.bfloat16)
    return nullcontext()
