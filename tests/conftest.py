"""Fixtures shared across the test suite."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Single-threaded torch for a module: on a small shared machine, intra-op threads that wait
    on busy cores make small VGG passes many times slower. Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def builtin_net(tmp_path_factory, monkeypatch):
    """A tiny seeded multi-style network (styles alpha, beta, gamma) standing in for the shipped
    built-in one: ``FastStylizer()`` and ``--method auto/fast`` use it."""
    from instyle import onnx_runtime, shipped
    from instyle.checkpoint import save_model
    from instyle.errors import WeightsError
    from instyle.models import JohnsonConfig, JohnsonNet

    torch.manual_seed(0)
    styles = ("alpha", "beta", "gamma")
    net = JohnsonNet(JohnsonConfig(norm="conditional_instance", width=0.125, residual_blocks=1, styles=styles))
    path = save_model(tmp_path_factory.mktemp("builtin_net") / "builtin.safetensors", net)
    monkeypatch.setattr(shipped, "builtin_model_path", lambda: str(path))
    monkeypatch.setattr(shipped, "builtin_styles", lambda: styles)

    def no_onnx():  # the shipped ONNX file is the real network's: this stand-in has none
        raise WeightsError("no ONNX copy of the stand-in network")

    monkeypatch.setattr(onnx_runtime, "builtin_onnx_path", no_onnx)
    return path
