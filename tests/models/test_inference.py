"""Tests for instyle.models.inference: the rewritten Johnson forward pass gives the trained net's
outputs (every norm, CIN styles and blends, odd and tiny sizes, wide and narrow nets, channels-last),
and each rewrite alone equals the layers it replaces."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from instyle.models import JohnsonConfig, JohnsonNet, TextureNet, TextureNetConfig
from instyle.models.inference import (
    InferenceJohnson,
    PhaseConvBlock,
    for_inference,
    phase_shuffle,
    strided_phase_conv_weight,
    upsample_conv_weight,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _randomize(net: nn.Module) -> nn.Module:
    """Non-trivial norm parameters and statistics, so every term of the rewrite matters."""
    torch.manual_seed(1)
    for name, p in net.named_parameters():
        if p.dim() <= 2 and "conv" not in name:
            with torch.no_grad():
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.3)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.mark.parametrize("kernel", [3, 5, 9])
@pytest.mark.parametrize("hw", [(12, 16), (8, 6)])
def test_strided_phase_conv_equals_the_conv(kernel, hw):
    torch.manual_seed(0)
    conv = nn.Conv2d(5, 3, kernel)
    x = torch.randn(2, 5, hw[0] + kernel - 1, hw[1] + kernel - 1)
    w = strided_phase_conv_weight(conv.weight)
    assert w.shape == (12, 5, kernel + 1, kernel + 1)
    out = phase_shuffle(F.conv2d(x, w, conv.bias.repeat(4), stride=2))
    torch.testing.assert_close(out, conv(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("hw", [(1, 1), (1, 4), (5, 3), (8, 8)])
def test_phase_upsample_conv_equals_upsample_reflect_conv(hw):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3)
    x = torch.randn(2, 4, *hw)
    ref = conv(F.pad(F.interpolate(x, scale_factor=2, mode="nearest"), (1, 1, 1, 1), mode="reflect"))
    y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), upsample_conv_weight(conv.weight), conv.bias.repeat(4))
    torch.testing.assert_close(phase_shuffle(y), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("shape", [(2, 12, 3, 5), (1, 4, 1, 1), (1, 8, 2, 1)])
def test_phase_shuffle_is_pixel_shuffle_with_the_phase_outermost(shape, memory_format):
    y = torch.randn(shape).contiguous(memory_format=memory_format)
    n, c4, h, w = shape
    as_pixel_shuffle = y.view(n, 4, c4 // 4, h, w).transpose(1, 2).reshape(shape)  # channel c·4 + 2a + b
    out = phase_shuffle(y)
    assert torch.equal(out, F.pixel_shuffle(as_pixel_shuffle, 2))
    if memory_format == torch.channels_last and h * w > 1:
        assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("norm", ["instance", "batch", "group", "layer", "none"])
@pytest.mark.parametrize("hw", [(32, 32), (30, 42), (13, 9), (5, 7)])
def test_rewritten_net_gives_the_same_outputs(norm, hw):
    torch.manual_seed(0)
    net = _randomize(JohnsonNet(JohnsonConfig(norm=norm, width=0.25, residual_blocks=2)))
    fast = for_inference(net)
    assert isinstance(fast, InferenceJohnson) and fast.config == net.config
    x = torch.rand(2, 3, *hw)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), net(x), atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("width, narrow", [(0.25, True), (0.5, False)])
def test_conditional_styles_blends_and_channels_last(width, narrow):
    torch.manual_seed(0)
    net = _randomize(
        JohnsonNet(JohnsonConfig(norm="conditional_instance", width=width, residual_blocks=1, styles=("a", "b", "c")))
    )
    fast = for_inference(net).to(memory_format=torch.channels_last)
    assert isinstance(fast.down[0], PhaseConvBlock) == narrow  # the first conv is rewritten below 16 channels
    x = torch.rand(1, 3, 36, 52)
    xl = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        for style in (torch.tensor([2]), torch.tensor([0.2, 0.5, 0.3])):
            torch.testing.assert_close(fast(xl, style), net(x, style), atol=2e-5, rtol=1e-4)


def test_the_rewrite_shares_the_trained_norms_and_leaves_the_net_alone():
    net = _randomize(JohnsonNet(JohnsonConfig(width=0.25, residual_blocks=1)))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fast = for_inference(net)
    assert fast.res is net.res and fast.up[0].norm is net.up[0].norm
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_other_networks_are_returned_as_they_are():
    tn = TextureNet(TextureNetConfig(scales=2))
    assert for_inference(tn) is tn
    net = JohnsonNet(JohnsonConfig(width=0.25, residual_blocks=1))
    net.out[1] = nn.Conv2d(net.out[1].in_channels, 3, 8)  # an even kernel has no centred phase form
    assert for_inference(net) is net
