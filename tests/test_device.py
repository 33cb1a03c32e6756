import pytest
import torch

from instyle import device as dev


def test_resolve_precision_explicit_values_pass_through():
    assert dev.resolve_precision("fp32") == "fp32"
    assert dev.resolve_precision("bf16") == "bf16"


def test_resolve_precision_auto_follows_cpu_flags(monkeypatch):
    monkeypatch.setattr(dev, "_cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    assert dev.resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(dev, "_cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert dev.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(dev, "_cpu_flags", lambda: frozenset({"amx_bf16"}))
    assert dev.has_native_bf16(torch.device("cpu"))


def test_resolve_precision_rejects_unknown():
    with pytest.raises(ValueError, match="precision"):
        dev.resolve_precision("fp16")


def test_cpu_flags_read_from_proc_when_present():
    flags = dev._cpu_flags()
    assert isinstance(flags, frozenset)
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    if "flags" in text:
        assert flags and all(f in text for f in list(flags)[:5])
