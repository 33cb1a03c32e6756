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
    built-in ones (for stills and for video): ``FastStylizer()``, ``--method auto/fast`` and
    ``instyle video`` use it."""
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
    monkeypatch.setattr(shipped, "has_video_model", lambda: False)  # the stand-in serves video too

    def no_onnx(name="builtin"):  # the shipped ONNX files are the real networks': this stand-in has none
        raise WeightsError("no ONNX copy of the stand-in network")

    monkeypatch.setattr(onnx_runtime, "builtin_onnx_path", no_onnx)
    return path


@pytest.fixture
def light_net(tmp_path_factory, monkeypatch):
    """A tiny seeded light AdaIN network standing in for the shipped one (``AdaINStylizer(arch="light")``,
    ``--arch light``), with its ONNX copy (``OnnxAdaIN()``) when onnx is installed; the built-in
    presets get statistics for its encoder. Returns the model file's path."""
    from instyle import export, onnx_runtime, presets, shipped, stylize
    from instyle.checkpoint import save_model
    from instyle.models import LightAdaIN, LightAdaINConfig

    torch.manual_seed(0)
    net = LightAdaIN(LightAdaINConfig(width=0.125)).eval()
    folder = tmp_path_factory.mktemp("light_net")
    path = save_model(folder / "light.safetensors", net)
    real_default = shipped.default_decoder_path
    for module in (shipped, stylize, export):  # every module that holds the function
        monkeypatch.setattr(
            module, "default_decoder_path", lambda arch="vgg": str(path) if arch == "light" else real_default(arch)
        )
    try:
        from instyle.export import export_adain

        export_adain(folder / "onnx", net)
        monkeypatch.setattr(onnx_runtime, "light_onnx_path", lambda file: str(folder / "onnx" / file))
    except Exception:
        pass
    encoder = net.encoder_id()
    monkeypatch.setattr(presets, "shipped_light_encoder", lambda: encoder)
    found = presets._find

    def find(name):  # built-in presets with this stand-in's statistics (its encoder of a random image)
        stats = dict(found(name))
        if encoder not in stats and name in presets._builtin() and not presets.is_user_preset(name):
            g = torch.Generator().manual_seed(len(name))
            stats[encoder] = (
                torch.rand(1, 64, 1, 1, generator=g).numpy(),
                (torch.rand(1, 64, 1, 1, generator=g) + 0.1).numpy(),
            )
        return stats

    monkeypatch.setattr(presets, "_find", find)
    return path
