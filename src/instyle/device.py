"""Devices and what the hardware can do: device names, native bfloat16 support (which decides
the ``"auto"`` precision), and a description of the machine for logs and benchmark reports."""

from __future__ import annotations

import datetime as dt
import os
import platform
from functools import lru_cache
from typing import Any

import torch

from .choices import PRECISIONS, TRAIN_PRECISIONS, check
from .errors import UsageError


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


def resolve_precision(
    precision: str, device: torch.device | str = "cpu", *, training: bool = False, bf16_on_cpu: bool = True
) -> str:
    """The precision to run in: ``"auto"`` -> ``"bf16"`` where the hardware has native bf16 (on a
    CPU only if ``bf16_on_cpu``: narrow networks gain nothing from it), else ``"fp32"``; any other
    choice of :data:`~instyle.choices.PRECISIONS` (with ``training``, also ``"fp16"``, which needs a
    CUDA GPU) as it is."""
    check(precision, TRAIN_PRECISIONS if training else PRECISIONS, "precision")
    device = torch.device(device)
    if precision == "auto":
        if device.type == "cpu" and not bf16_on_cpu:
            return "fp32"
        return "bf16" if has_native_bf16(device) else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise UsageError("fp16 training needs a CUDA GPU; use bf16 or fp32 on the CPU")
    return precision


def precision_dtype(precision: str) -> torch.dtype:
    """The tensor dtype of a resolved precision: bf16, fp16 or fp32."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (e.g. "AMD EPYC 9B14"); elsewhere what
    :mod:`platform` knows, else ``"unknown"``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages (2 decimals); None where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def describe_hardware(device: torch.device) -> str:
    """E.g. "NVIDIA H100 80GB HBM3" or "CPU: AMD EPYC 9B14 (2 threads)"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU: {cpu_model()} ({torch.get_num_threads()} threads)"


def describe_machine() -> dict[str, Any]:
    """What a timing depends on, as plain JSON-ready values: the date (UTC), CPU model, logical
    CPUs, load averages, platform, Python, the OpenMP/MKL thread variables set, torch's version,
    threads and CPU capability, native bf16, and the CUDA GPUs' names."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "load_average_1_5_15": load_average(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "env_threads": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ},
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": has_native_bf16("cpu"),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available()
        else [],
    }
