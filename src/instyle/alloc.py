"""Heap settings for CPU inference: :func:`keep_freed_memory`.

PyTorch's CPU tensors come from ``malloc``. glibc serves large blocks (above a threshold that it
moves between 128 KiB and 32 MiB) with fresh ``mmap`` pages and returns them on ``free``, so every
forward pass page-faults its activation maps in again, which makes a call at 1024×1024 markedly
slower than with the blocks kept (docs/fast.md, "Speed"). Keeping freed memory in the heap makes
repeated calls reuse the same pages.

With those blocks in the heap, glibc's one-arena-per-thread design fragments: a frame decoded in
one thread and freed in another leaves holes that neither reuses, and a long video's memory grew
with every frame (``benchmarks/video_long.py``; docs/video.md). One arena for every thread keeps
it flat, at the same speed and with a lower peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import lru_cache

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -2, -3, -8
ENV_SWITCH = "INSTYLE_MALLOPT"


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Ask glibc to serve blocks below 1 GiB from the heap, not to give freed heap memory back
    to the system, and to keep one heap for all threads (``mallopt``), once per process. The
    process keeps its peak heap (which a stylizer reaches on its first call anyway). Returns True
    if applied; a no-op returning False off Linux/glibc or with the environment variable
    ``INSTYLE_MALLOPT=0``.
    """
    if not sys.platform.startswith("linux") or os.environ.get(ENV_SWITCH, "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, 1 << 30) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1 and ok
    ok = mallopt(_M_TOP_PAD, 64 << 20) == 1 and ok
    ok = mallopt(_M_ARENA_MAX, 1) == 1 and ok
    return ok


def release_freed_memory() -> bool:
    """Give the heap's free memory back to the system now (glibc ``malloc_trim``), whatever
    :func:`keep_freed_memory` asked: for a long-running process (``instyle serve``) once it is
    idle, so a burst of large requests does not leave its peak resident for good. The next
    request faults its pages in again (small beside the network's time at 512²). Returns True if
    memory was released."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim(0) == 1
