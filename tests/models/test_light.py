"""The light AdaIN network (models/light.py): shapes, sizes, parameters, its encoder id, its
decoder's upsampling, and the exact tiling it shares with VGG-19's encoder."""

import dataclasses
import json

import pytest
import torch

from instyle.checkpoint import config_from_dict, load_model, read_model_file, save_model
from instyle.choices import ADAIN_STYLE_LAYERS
from instyle.errors import WeightsError
from instyle.models import MODEL_KINDS, LightAdaIN, LightAdaINConfig
from instyle.tiling import decode_tiled, encode_tiled


@pytest.fixture(
    scope="module",
    params=[("reflect", "nearest"), ("zero", "nearest"), ("zero", "bilinear")],  # bilinear: new training runs
    ids="-".join,
)
def net(request):
    padding, upsample = request.param
    torch.manual_seed(0)
    return LightAdaIN(LightAdaINConfig(padding=padding, upsample=upsample)).eval()


def _twin(net, **changes):
    """A network with ``net``'s weights and its config changed by ``changes``."""
    other = LightAdaIN(dataclasses.replace(net.config, **changes)).eval()
    other.load_state_dict(net.state_dict())
    return other


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_registered_as_a_model_kind():
    assert MODEL_KINDS["adain_light"] == (LightAdaINConfig, LightAdaIN)


def test_under_a_million_parameters_for_encoder_and_decoder(net):
    # the budget: encoder + decoder <= 1 M (the training-only projections are extra)
    assert count(net.encoder) + count(net.decoder) <= 1_000_000
    assert count(net.encoder) + count(net.decoder) == 439_459


def test_widths_follow_the_multiplier():
    assert LightAdaINConfig(width=0.25).widths == (16, 32, 64, 128)
    assert LightAdaINConfig(width=0.5).widths == (32, 64, 128, 256)
    assert LightAdaINConfig(width=0.05).widths == (8, 8, 13, 26)  # at least 8 channels
    for bad in (0.0, -1.0, 1.5):
        with pytest.raises(ValueError, match="width"):
            LightAdaINConfig(width=bad)


def test_padding_changes_only_the_border_band():
    # the same weights with zero instead of reflect padding: features whose 68-px receptive field
    # stays inside the image are identical, the ones at the border are not; no pad layers remain
    torch.manual_seed(0)
    reflect = LightAdaIN(LightAdaINConfig(padding="reflect")).eval()
    zero = LightAdaIN(LightAdaINConfig(padding="zero")).eval()
    zero.load_state_dict(reflect.state_dict())  # same names and shapes
    x = torch.rand(1, 3, 160, 160)
    with torch.no_grad():
        a, b = reflect.encoder.encode(x), zero.encoder.encode(x)  # (1, 128, 20, 20)
    torch.testing.assert_close(b[..., 5:15, 5:15], a[..., 5:15, 5:15], atol=1e-5, rtol=1e-4)
    assert (b[..., 0, :] - a[..., 0, :]).abs().max() > 1e-3
    assert not any(isinstance(m, torch.nn.ReflectionPad2d) for m in zero.modules())
    assert any(isinstance(m, torch.nn.ReflectionPad2d) for m in reflect.modules())
    assert zero.encoder_id() != reflect.encoder_id()  # other statistics: presets must tell them apart


def test_padding_is_checked_and_defaults_to_reflect_for_older_files():
    assert config_from_dict("adain_light", {"width": 0.25}, "old.safetensors").padding == "reflect"
    with pytest.raises(ValueError, match="padding must be one of zero, reflect"):
        LightAdaINConfig(padding="same")


def test_upsample_is_checked_and_defaults_to_nearest_for_older_files():
    assert LightAdaINConfig().upsample == "nearest"  # a config built in code: as before the field
    old = config_from_dict("adain_light", {"width": 0.25, "padding": "zero"}, "old.safetensors")
    assert old.upsample == "nearest" and old.padding == "zero"
    with pytest.raises(ValueError, match="upsample must be one of nearest, bilinear, got 'bicubic'"):
        LightAdaINConfig(upsample="bicubic")
    with pytest.raises(WeightsError, match="new.safetensors: invalid adain_light config: upsample"):
        config_from_dict("adain_light", {"width": 0.25, "upsample": "bicubic"}, "new.safetensors")


def test_upsample_changes_the_decoder_only():
    # the same weights with bilinear instead of nearest ×2 stages: the same encoder (and so the
    # same statistics and presets), another output of the same shape
    torch.manual_seed(0)
    near = LightAdaIN(LightAdaINConfig(padding="zero")).eval()
    bil = _twin(near, upsample="bilinear")
    modes = [m.mode for m in bil.decoder.modules() if isinstance(m, torch.nn.Upsample)]
    assert modes == ["bilinear"] * 3
    assert [m.mode for m in near.decoder.modules() if isinstance(m, torch.nn.Upsample)] == ["nearest"] * 3
    assert bil.encoder_id() == near.encoder_id()
    c, s = torch.rand(1, 3, 67, 45), torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        torch.testing.assert_close(bil.encoder.encode(c), near.encoder.encode(c), rtol=0, atol=0)
        a, b = near(c, s), bil(c, s)
    assert a.shape == b.shape == (1, 3, 72, 48)
    spread = (a - a.mean()).abs().max()
    assert (a - b).abs().max() > 1e-3 * spread  # measured: 1.6e-2 of the spread


def _lattice(out, margin=40):
    """How much of ``out``'s horizontal curvature repeats every 8 px (the decoder's stride), as a
    fraction of its mean horizontal gradient: the strongest phase of the second difference averaged
    over rows and 8-px periods, ``margin`` px from the borders."""
    o = out[..., margin:-margin, margin:-margin]
    d1 = o[..., 1:] - o[..., :-1]
    d2 = d1[..., 1:] - d1[..., :-1]
    w = d2.shape[-1] // 8 * 8
    per_phase = d2[..., :w].reshape(*d2.shape[:-1], -1, 8).mean(dim=(0, 2, 3))  # (3, 8)
    return (per_phase.abs().amax(dim=1) / d1.abs().mean(dim=(0, 2, 3))).max().item()


def test_bilinear_leaves_no_block_lattice_on_a_ramp():
    """Why bilinear exists: nearest ×2 turns a smooth ramp of features into a staircase, and the
    convs after it make each step's edges into a pattern that repeats every 8 output px; bilinear
    ×2 of a ramp is a ramp, so the output varies smoothly (what is left is the ReLUs' kinks).
    float64, so that rounding does not hide a gradient of 1e-7 per px (random weights)."""
    torch.manual_seed(0)
    near = LightAdaIN(LightAdaINConfig(padding="zero")).eval().double()
    bil = _twin(near, upsample="bilinear").double()
    g = torch.Generator().manual_seed(0)
    level = torch.rand(1, 128, 1, 1, generator=g, dtype=torch.float64) + 0.5
    slope = 0.1 * torch.randn(1, 128, 1, 1, generator=g, dtype=torch.float64)
    x = torch.arange(24, dtype=torch.float64)
    feat = (level + slope * x).expand(1, 128, 16, 24).contiguous()  # every channel a ramp along x
    with torch.no_grad():
        blocky, smooth = _lattice(near.decoder(feat)), _lattice(bil.decoder(feat))
    # measured over 6 seeds and slopes 0.01-1: nearest 2.1-4.5, bilinear 0.02-0.16
    assert blocky > 1.0
    assert smooth < 0.5


def test_a_bilinear_network_keeps_its_upsampling_through_a_file(tmp_path):
    torch.manual_seed(0)
    net = LightAdaIN(LightAdaINConfig(padding="zero", upsample="bilinear")).half().float().eval()  # fp16 weights
    path = save_model(tmp_path / "bilinear.safetensors", net)
    loaded, _ = load_model(path, expect="adain_light")
    assert loaded.config == net.config and loaded.config.upsample == "bilinear"
    c, s = torch.rand(1, 3, 67, 45), torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        torch.testing.assert_close(loaded(c, s), net(c, s), rtol=0, atol=0)


def test_a_file_from_before_the_upsample_field_loads_as_nearest(tmp_path):
    from safetensors.torch import save

    torch.manual_seed(0)
    near = LightAdaIN(LightAdaINConfig(padding="zero")).half().float().eval()
    path = save_model(tmp_path / "new.safetensors", near)
    _, config, state, meta = read_model_file(path)
    assert config["upsample"] == "nearest"  # written by this instyle
    del config["upsample"]
    old = tmp_path / "old.safetensors"
    old.write_bytes(save(state, metadata={**meta, "config": json.dumps(config)}))
    loaded, _ = load_model(old, expect="adain_light")
    assert loaded.config == near.config and loaded.config.upsample == "nearest"
    c, s = torch.rand(1, 3, 40, 48), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(c, s), near(c, s), rtol=0, atol=0)
        assert (loaded(c, s) - _twin(near, upsample="bilinear")(c, s)).abs().max() > 0


@pytest.mark.parametrize("hw", [(64, 64), (67, 45), (1, 1), (2, 300), (300, 3), (17, 9)])
def test_feature_and_output_shapes(net, hw):
    h, w = hw
    x = torch.rand(2, 3, h, w)
    with torch.no_grad():
        f = net.encoder.encode(x)
        out = net.decoder(f)
    fh, fw = -(-h // 8), -(-w // 8)  # ceil-mode pooling keeps every pixel
    assert f.shape == (2, 128, fh, fw)
    assert out.shape == (2, 3, 8 * fh, 8 * fw)
    assert torch.isfinite(out).all()


def test_forward_returns_the_layers_asked_for(net):
    x = torch.rand(1, 3, 32, 40)
    feats = net.encoder(x, ADAIN_STYLE_LAYERS)
    assert list(feats) == list(ADAIN_STYLE_LAYERS)
    assert [f.shape[1] for f in feats.values()] == [16, 32, 64, 128]
    assert [f.shape[-1] for f in feats.values()] == [40, 20, 10, 5]
    assert list(net.encoder(x, "relu2_1")) == ["relu2_1"]
    torch.testing.assert_close(net.encoder(x, ["relu4_1"])["relu4_1"], feats["relu4_1"])
    with pytest.raises(ValueError, match="light encoder has layers"):
        net.encoder(x, ["relu5_1"])
    with pytest.raises(ValueError):
        net.encoder(x, [])


def test_projections_map_to_vgg_channels(net):
    feats = net.encoder(torch.rand(1, 3, 32, 32), ADAIN_STYLE_LAYERS)
    assert [net.project[n](f).shape[1] for n, f in feats.items()] == [64, 128, 256, 512]


def test_forward_is_adain_between_encoder_and_decoder(net):
    from instyle.nn.functional import adain

    c, s = torch.rand(1, 3, 48, 40), torch.rand(1, 3, 32, 56)
    with torch.no_grad():
        want = net.decoder(adain(net.encoder.encode(c), net.encoder.encode(s)))
        torch.testing.assert_close(net(c, s), want)


def test_encoder_id_names_the_weights(net):
    a = net.encoder_id()
    assert a.startswith("light/") and len(a) == len("light/") + 16
    assert net.encoder_id() == a  # stable
    other = LightAdaIN(net.config)
    other.load_state_dict(net.state_dict())
    assert other.encoder_id() == a
    other.decoder.layers[0][1].bias.data += 1  # the decoder does not change the statistics
    assert other.encoder_id() == a
    with torch.no_grad():
        other.encoder.stages[0][0][1].bias += 1
    assert other.encoder_id() != a


def test_tiling_is_exact_for_the_light_encoder_and_decoder(net):
    # same stride and receptive field as VGG-19 to relu4_1: instyle.tiling's halos apply unchanged
    x = torch.rand(1, 3, 200, 264)
    with torch.no_grad():
        whole = net.encoder.encode(x)
        tiled = encode_tiled(net.encoder.encode, x, 64)
        torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(decode_tiled(net.decoder, whole, 8), net.decoder(whole), atol=1e-5, rtol=1e-4)
