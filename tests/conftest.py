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
def builtin_net(tmp_path_factory):
    """A tiny seeded multi-style network (styles alpha, beta, gamma) standing in for the shipped
    built-in ones (for stills and for video): ``FastStylizer()``, ``--method auto/fast`` and
    ``instyle video`` use it. Shipped files are found through one locator
    (:func:`instyle.shipped.use_assets`): here the stand-in is the built-in network, and there is
    no network for video (the stand-in serves video too) and no ONNX copy (those shipped are the
    real networks')."""
    from helpers import tiny_fast_net
    from instyle import shipped

    styles = ("alpha", "beta", "gamma")
    path = tiny_fast_net(tmp_path_factory.mktemp("builtin_net") / "builtin.safetensors", styles, seed=0)
    absent = (shipped.VIDEO_MODEL, shipped.BUILTIN_ONNX, shipped.VIDEO_ONNX, shipped.VIDEO_SHARED_ONNX)
    with shipped.use_assets({shipped.BUILTIN_MODEL: path, **dict.fromkeys(absent)}):
        assert shipped.builtin_styles() == styles
        yield path


@pytest.fixture
def light_net(tmp_path_factory):
    """A tiny seeded light AdaIN network standing in for the shipped one (``AdaINStylizer(arch="light")``,
    ``--arch light``), with its ONNX copy (``OnnxAdaIN()``) when onnx is installed; the built-in
    presets get statistics for its encoder (a random image's), in a preset file standing in for
    the shipped one. Shipped files are found through one locator
    (:func:`instyle.shipped.use_assets`). Returns the model file's path."""
    from instyle import presets, shipped
    from instyle.checkpoint import save_model
    from instyle.models import LightAdaIN, LightAdaINConfig

    torch.manual_seed(0)
    net = LightAdaIN(LightAdaINConfig(width=0.125)).eval()
    folder = tmp_path_factory.mktemp("light_net")
    path = save_model(folder / "light.safetensors", net)
    assets = {shipped.LIGHT_MODEL: path}
    try:
        from instyle.export import export_adain

        export_adain(folder / "onnx", net)
        assets[shipped.LIGHT_ONNX_DIR] = folder / "onnx"
    except Exception:
        pass
    encoder = net.encoder_id()
    builtins, light = {}, {}
    for name, (stats, info) in presets._builtin().items():
        mean, std = stats[presets.ENCODER_ID]
        builtins[name] = ((torch.from_numpy(mean.copy()), torch.from_numpy(std.copy())), info.source, info.style_size)
        g = torch.Generator().manual_seed(len(name))
        light[name] = (torch.rand(1, 64, 1, 1, generator=g), torch.rand(1, 64, 1, 1, generator=g) + 0.1)
    assets[presets.BUILTIN_FILE] = presets.save_builtin_file(
        folder / presets.BUILTIN_FILE, builtins, light=(encoder, light)
    )
    with shipped.use_assets(assets):
        yield path
