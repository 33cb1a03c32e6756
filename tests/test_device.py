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


def test_cpu_model_reads_proc_cpuinfo():
    name = dev.cpu_model()
    assert isinstance(name, str) and name
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    if "model name" in text:
        assert name in text


def test_cpu_model_falls_back_to_platform(monkeypatch):
    def no_file(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(dev, "open", no_file, raising=False)  # shadows the builtin inside instyle.device
    monkeypatch.setattr(dev.platform, "processor", lambda: "")
    monkeypatch.setattr(dev.platform, "machine", lambda: "riscv64")
    assert dev.cpu_model() == "riscv64"
    monkeypatch.setattr(dev.platform, "machine", lambda: "")
    assert dev.cpu_model() == "unknown"


def test_load_average(monkeypatch):
    monkeypatch.setattr(dev.os, "getloadavg", lambda: (0.123, 1.0, 2.456))
    assert dev.load_average() == [0.12, 1.0, 2.46]

    def unsupported():
        raise OSError("no load average")

    monkeypatch.setattr(dev.os, "getloadavg", unsupported)
    assert dev.load_average() is None


def test_describe_hardware(monkeypatch):
    monkeypatch.setattr(dev, "cpu_model", lambda: "Test CPU 9000")
    assert dev.describe_hardware(torch.device("cpu")) == f"CPU: Test CPU 9000 ({torch.get_num_threads()} threads)"
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU 80GB")
    assert dev.describe_hardware(torch.device("cuda", 0)) == "Fake GPU 80GB"


def test_describe_machine(monkeypatch):
    import datetime as dt
    import json
    import os

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    info = dev.describe_machine()
    assert json.loads(json.dumps(info)) == info  # plain JSON values only
    assert info["cpu_model"] == dev.cpu_model() and info["logical_cpus"] == os.cpu_count()
    assert info["env_threads"] == {"OMP_NUM_THREADS": "3"}
    assert info["torch"] == torch.__version__ and info["torch_threads"] == torch.get_num_threads()
    assert info["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert info["native_bf16"] == dev.has_native_bf16("cpu")
    assert info["gpus"] == [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    assert dt.datetime.fromisoformat(info["date"]).utcoffset() == dt.timedelta(0)
    load = info["load_average_1_5_15"]
    assert load is None or (len(load) == 3 and all(x >= 0 for x in load))
