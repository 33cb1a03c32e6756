"""Devices and what the hardware can do: device names, and native bfloat16 support, which decides
the ``"auto"`` precision."""

from __future__ import annotations

from functools import lru_cache

import torch

from .errors import UsageError

PRECISIONS = ("auto", "fp32", "bf16")


def resolve_device(device: torch.device | str = "auto") -> torch.device:
    """``"auto"`` (the CUDA GPU where there is one, else the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``
    or a :class:`torch.device` -> :class:`torch.device`. A name torch does not know, or a GPU that is
    not there, is a :class:`~instyle.errors.UsageError`."""
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            raise UsageError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device {str(dev)!r} asked for, but no CUDA GPU is available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"device {str(dev)!r} asked for, but there are {torch.cuda.device_count()} GPUs")
    elif dev.type != "cpu":
        raise UsageError(f"device {str(dev)!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


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
