"""Process-wide settings for speed on CPUs, applied by the command line and the server (library users call
:func:`keep_freed_memory` themselves if they want it)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 1024**2  # glibc's upper limit on 64-bit systems


def keep_freed_memory() -> bool:
    """Make glibc's malloc reuse freed blocks of up to 32 MB instead of returning them to the system. By default
    each activation of a tile is a fresh mmap that the kernel zero-fills page by page, which shows up as system
    time in every convolution, ReLU and addition. Returns whether it applied (glibc on Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
                    and libc.mallopt(_M_TRIM_THRESHOLD, 1024**3))
    except (OSError, AttributeError):  # another C library (musl) or none found
        return False
