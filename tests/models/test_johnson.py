"""Tests for instyle.models.johnson and instyle.models.texture_net: shapes for any size, every norm
through the factory, the width multiplier, conditional IN (index, per-sample, blends), model files."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from instyle.checkpoint import load_model, save_model
from instyle.models import JohnsonConfig, JohnsonNet, TextureNet, TextureNetConfig
from instyle.nn.norm import ConditionalInstanceNorm2d, InstanceNorm2d

pytestmark = pytest.mark.usefixtures("one_thread")
NORMS = ("instance", "batch", "group", "layer", "none")


def _n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("hw", [(32, 32), (30, 42), (13, 9)])
def test_johnson_keeps_any_size(norm, hw):
    net = JohnsonNet(JohnsonConfig(norm=norm, width=0.25, residual_blocks=1))
    assert net(torch.rand(2, 3, *hw)).shape == (2, 3, *hw)


def test_johnson_paper_size_and_norm_layers():
    net = JohnsonNet()
    assert 1_600_000 < _n_params(net) < 1_700_000  # Johnson et al.: about 1.68M parameters
    norms = [m for m in net.modules() if isinstance(m, InstanceNorm2d)]
    assert len(norms) == 3 + 2 * 5 + 2  # down convs, residual convs, up convs (none on the output conv)
    bn = JohnsonNet(JohnsonConfig(norm="batch"))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.modules()) == len(norms)
    assert _n_params(JohnsonNet(JohnsonConfig(width=0.5))) < _n_params(net) / 3


def test_instance_norm_net_output_of_one_sample_ignores_the_batch():
    torch.manual_seed(0)
    net = JohnsonNet(JohnsonConfig(width=0.25, residual_blocks=1))
    a, b = torch.rand(1, 3, 24, 24), torch.rand(1, 3, 24, 24)
    torch.testing.assert_close(net(torch.cat([a, b]))[:1], net(a), rtol=1e-5, atol=1e-5)


def test_conditional_instance_network_selects_and_blends_styles():
    torch.manual_seed(0)
    cfg = JohnsonConfig(norm="conditional_instance", width=0.25, residual_blocks=1, styles=("a", "b", "c"))
    net = JohnsonNet(cfg)
    for layer in net.cin_layers():  # distinct γ, β per style
        nn.init.normal_(layer.weight, 1.0, 0.3)
        nn.init.normal_(layer.bias, 0.0, 0.3)
    x = torch.rand(2, 3, 24, 24)
    y0, y1 = net(x, 0), net(x, 1)
    assert not torch.allclose(y0, y1)
    torch.testing.assert_close(net(x, torch.tensor([0, 1]))[0], y0[0])
    torch.testing.assert_close(net(x, torch.tensor([0, 1]))[1], y1[1])
    torch.testing.assert_close(net(x, torch.tensor([0.0, 1.0, 0.0])), y1)  # one-hot weights = index
    assert not torch.allclose(net(x, torch.tensor([0.5, 0.5, 0.0])), y0)
    assert len(net.cin_layers()) == 3 + 2 * 1 + 2  # down, one residual block, up


@pytest.mark.parametrize(
    "bad",
    [
        dict(norm="nope"),
        dict(width=0),
        dict(residual_blocks=-1),
        dict(norm="conditional_instance"),
        dict(styles=("a", "a")),
    ],
)
def test_johnson_config_validation(bad):
    with pytest.raises(ValueError):
        JohnsonConfig(**bad)


@pytest.mark.parametrize("norm", ("instance", "batch", "none"))
@pytest.mark.parametrize("hw", [(64, 48), (30, 42), (5, 7)])
def test_texture_net_keeps_any_size(norm, hw):
    net = TextureNet(TextureNetConfig(norm=norm))
    x = torch.rand(2, 3, *hw)
    assert net(x).shape == (2, 3, *hw)


def test_texture_net_noise_input_matters_and_is_reproducible():
    torch.manual_seed(0)
    net = TextureNet(TextureNetConfig(scales=3))
    x = torch.rand(1, 3, 32, 32)
    z1 = net.noise(x, torch.Generator().manual_seed(1))
    z2 = net.noise(x, torch.Generator().manual_seed(2))
    assert [t.shape[-2:] for t in z1] == [(32, 32), (16, 16), (8, 8)]
    torch.testing.assert_close(net(x, z=z1), net(x, z=z1), rtol=0, atol=0)
    assert not torch.allclose(net(x, z=z1), net(x, z=z2))
    no_noise = TextureNet(TextureNetConfig(scales=3, noise_channels=0))
    assert no_noise(x).shape == x.shape


def test_texture_net_conditional():
    net = TextureNet(TextureNetConfig(norm="conditional_instance", styles=("a", "b"), scales=3))
    assert all(isinstance(m, ConditionalInstanceNorm2d) for m in net.cin_layers()) and net.cin_layers()
    assert net(torch.rand(2, 3, 16, 16), torch.tensor([0, 1])).shape == (2, 3, 16, 16)


@pytest.mark.parametrize(
    "kind, model",
    [
        ("johnson", JohnsonNet(JohnsonConfig(norm="conditional_instance", width=0.25, styles=("x", "y")))),
        ("texture_net", TextureNet(TextureNetConfig(scales=3, norm="batch"))),
    ],
)
def test_model_files_round_trip(tmp_path, kind, model):
    path = save_model(tmp_path / "m.safetensors", model)
    loaded, _ = load_model(path, expect=kind)
    assert loaded.config == model.config
    model.eval()
    x = torch.rand(1, 3, 16, 16)
    z = loaded.noise(x, torch.Generator().manual_seed(0)) if kind == "texture_net" else None
    args = dict(z=z) if z is not None else dict(style=1)
    torch.testing.assert_close(loaded(x, **args), model(x, **args), rtol=1e-2, atol=1e-2)  # fp16 file
