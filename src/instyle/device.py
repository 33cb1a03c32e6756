"""What the hardware can do: native bfloat16 support decides the ``"auto"`` precision."""

from __future__ import annotations

from functools import lru_cache

import torch

PRECISIONS = ("auto", "fp32", "bf16")


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def has_native_bf16(device: torch.device | str = "cpu") -> bool:
    """True where bf16 matrix work is faster than fp32: CUDA GPUs with bf16 support, and CPUs
    with AVX512-BF16 or AMX-BF16 instructions (elsewhere bf16 is emulated and slower)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


def resolve_precision(precision: str, device: torch.device | str = "cpu") -> str:
    """``"auto"`` -> ``"bf16"`` where the hardware has native bf16, else ``"fp32"``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if has_native_bf16(device) else "fp32"
    return precision
