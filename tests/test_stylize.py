"""instyle.stylize: the AdaIN AdaINStylizer's controls (alpha, blends, masks, colour), tiling, precision,
style inputs, and errors.

No decoder ships with instyle yet, so a small seeded random decoder (width 0.25) stands in: the
checks look at what the decoder is fed (captured with a forward pre-hook), which is where the
controls act, and at output shape/range/colour, which do not depend on the decoder being trained.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from helpers import smooth_tensor
from instyle import presets
from instyle.checkpoint import save_model
from instyle.color import rgb_to_yiq
from instyle.errors import InstyleError, UsageError, WeightsError
from instyle.imageio import load_image, save_image
from instyle.models import MODEL_KINDS
from instyle.models.adain import AdaINConfig, AdaINDecoder
from instyle.nn.functional import adain, calc_mean_std, normalize_weights
from instyle.stylize import AdaINStylizer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: VGG-19

H, W = 48, 64  # content size (feature map 6 x 8)


def _image(h, w, seed, sat=1.0):
    """A smooth (1, 3, h, w) RGB image in [0, 1] with a little noise; ``sat`` scales the colour."""
    return smooth_tensor(h, w, seed, grid=5, noise=0.08, sat=sat)


def _decoder(seed=0):
    torch.manual_seed(seed)
    dec = AdaINDecoder(AdaINConfig(width=0.25))
    with torch.no_grad():  # outputs around mid-grey, so little is lost to clamping
        dec.layers[-1][1].bias.fill_(0.5)
    return dec.eval()


@pytest.fixture(scope="module")
def dec():
    return _decoder()


@pytest.fixture(scope="module")
def st(dec, one_thread):
    return AdaINStylizer(dec, precision="fp32", style_size=64)


@pytest.fixture(scope="module")
def content():
    return _image(H, W, seed=1, sat=0.6)


@pytest.fixture(scope="module")
def style_a():
    return _image(40, 40, seed=2)


@pytest.fixture(scope="module")
def style_b():
    return _image(36, 52, seed=3)


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """Presets are saved under a temporary INSTYLE_HOME, never the user's."""
    monkeypatch.setenv("INSTYLE_HOME", str(tmp_path / "home"))


def _run(st, *args, **kwargs):
    """Stylize and capture the decoder's input: (output, decoder input float32)."""
    seen = []
    handle = st.decoder.register_forward_pre_hook(lambda m, a: seen.append(a[0].detach().float().clone()))
    try:
        out = st(*args, **kwargs)
    finally:
        handle.remove()
    assert len(seen) == 1  # untiled: one decoder pass
    return out, seen[0]


def _close(a, b, rel=1e-5):
    """Max abs difference tiny relative to the magnitude (relu4_1 values run into the thousands)."""
    assert a.shape == b.shape
    tol = rel * max(b.abs().max().item(), 1.0)
    diff = (a - b).abs().max().item()
    assert diff <= tol, f"max abs diff {diff} > {tol}"


def _stats(x):
    """(C, P) -> biased per-channel mean, std (float64)."""
    x = x.double()
    mean = x.mean(dim=1)
    return mean, ((x - mean[:, None]) ** 2).mean(dim=1).sqrt()


# --------------------------------------------------------------------------- alpha


def test_alpha_0_feeds_content_features(st, content, style_a):
    out, t = _run(st, content, style_a, alpha=0.0)
    fc = st.encode(content).float()
    assert t.shape == fc.shape == (1, 512, 6, 8)
    _close(t, fc, rel=1e-6)
    assert out.shape == content.shape


def test_alpha_1_feeds_adain_with_style_stats(st, content, style_a):
    _, t = _run(st, content, style_a, alpha=1.0)
    fc = st.encode(content).float()
    s_mean, s_std = st.style_stats(style_a)
    _close(t, adain(fc, (s_mean, s_std)))
    # Every channel the content actually varies in takes on exactly the style's mean and std.
    c_std = calc_mean_std(fc)[1].view(-1)
    live = c_std > 1.0
    assert live.sum() > 100
    mean, std = _stats(t[0].flatten(1))
    torch.testing.assert_close(mean[live], s_mean.view(-1)[live].double(), rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(std[live], s_std.view(-1)[live].double(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("alpha", [0.25, 0.6])
def test_alpha_between_is_linear_mix(st, content, style_a, alpha):
    _, t = _run(st, content, style_a, alpha=alpha)
    fc = st.encode(content).float()
    full = adain(fc, st.style_stats(style_a))
    _close(t, alpha * full + (1 - alpha) * fc)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_alpha_out_of_range_raises(st, content, style_a, alpha):
    with pytest.raises(UsageError, match="alpha"):
        st(content, style_a, alpha=alpha)


# --------------------------------------------------------------------------- weights and blends


def test_normalize_weights():
    torch.testing.assert_close(normalize_weights(None, 4), torch.full((4,), 0.25))
    torch.testing.assert_close(normalize_weights([2, 2], 2), torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(normalize_weights([1, 3], 2), torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(normalize_weights([0, 5], 2), torch.tensor([0.0, 1.0]))
    assert normalize_weights([7], 1).dtype == torch.float32


@pytest.mark.parametrize("weights", [[-1, 2], [0, 0], [float("nan"), 1], [float("inf"), 1]])
def test_normalize_weights_rejects_bad_values(weights):
    with pytest.raises(UsageError, match="weights"):
        normalize_weights(weights, 2)


@pytest.mark.parametrize("weights", [[1.0], [1, 1, 1]])
def test_weight_count_must_match_styles(st, content, style_a, style_b, weights):
    with pytest.raises(UsageError, match="weights for 2 styles"):
        st(content, [style_a, style_b], weights=weights)


def test_equal_weights_any_scale_are_the_same(st, content, style_a, style_b):
    outs = [st(content, [style_a, style_b], weights=w) for w in ([2, 2], [0.5, 0.5], None)]
    for o in outs[1:]:
        torch.testing.assert_close(o, outs[0], rtol=0, atol=1e-6)


def test_blend_one_hot_equals_single_style(st, content, style_a, style_b):
    blended = st(content, [style_a, style_b], weights=[1, 0])
    single = st(content, style_a)
    torch.testing.assert_close(blended, single, rtol=0, atol=1e-6)
    assert not torch.allclose(st(content, style_b), single, atol=1e-3)  # the styles do differ


def test_blend_feeds_mixed_statistics(st, content, style_a, style_b):
    _, t = _run(st, content, [style_a, style_b], weights=[1, 3])
    (ma, sa), (mb, sb) = st.style_stats(style_a), st.style_stats(style_b)
    fc = st.encode(content).float()
    _close(t, adain(fc, (0.25 * ma + 0.75 * mb, 0.25 * sa + 0.75 * sb)))


@pytest.mark.parametrize("bad", [[], "color"])
def test_no_style_or_bad_color_raises(st, content, style_a, bad):
    with pytest.raises(UsageError):
        if bad == "color":
            st(content, style_a, color="sepia")
        else:
            st(content, bad)


# --------------------------------------------------------------------------- masks


def _block_masks():
    """Style 0 on the left 24 px, style 1 on the right 24 px, the middle 16 px unmasked (all on the
    8 px grid, so at feature resolution: columns 0-2 -> 0, 3-4 -> none, 5-7 -> 1)."""
    m0 = torch.zeros(1, 1, H, W)
    m0[..., :24] = 1
    m1 = torch.zeros(1, 1, H, W)
    m1[..., 40:] = 1
    labels = torch.full((1, 1, 6, 8), -1, dtype=torch.long)
    labels[..., :3] = 0
    labels[..., 5:] = 1
    return [m0, m1], labels


def test_mask_labels_follow_the_masks(st):
    masks, labels = _block_masks()
    assert torch.equal(st._labels(masks, 2, (6, 8)), labels)
    # 3-channel (1, 3, H, W) masks, as loaded from image files, give the same labels
    assert torch.equal(st._labels([m.expand(1, 3, H, W) for m in masks], 2, (6, 8)), labels)


def test_masks_each_region_gets_its_style(st, content, style_a, style_b):
    masks, labels = _block_masks()
    out, t = _run(st, content, [style_a, style_b], masks=masks)
    assert out.shape == content.shape
    fc = st.encode(content).float()
    keep = labels[0, 0] == -1
    torch.testing.assert_close(t[0][:, keep], fc[0][:, keep], rtol=0, atol=0)  # unmasked: content features
    for k, style in enumerate((style_a, style_b)):
        region = labels[0, 0] == k
        s_mean, s_std = (v.view(-1).double() for v in st.style_stats(style))
        c_std = _stats(fc[0][:, region])[1]
        live = c_std > 1.0
        assert live.sum() > 50
        mean, std = _stats(t[0][:, region])
        torch.testing.assert_close(mean[live], s_mean[live], rtol=1e-4, atol=1e-3)
        torch.testing.assert_close(std[live], s_std[live], rtol=1e-4, atol=1e-3)


def test_masks_with_alpha_mix_per_region(st, content, style_a, style_b):
    masks, _labels = _block_masks()
    _, full = _run(st, content, [style_a, style_b], masks=masks)
    _, half = _run(st, content, [style_a, style_b], masks=masks, alpha=0.5)
    fc = st.encode(content).float()
    _close(half, 0.5 * full + 0.5 * fc)


@pytest.mark.parametrize("n_masks", [1, 3])
def test_mask_count_mismatch_raises(st, content, style_a, style_b, n_masks):
    masks = [torch.ones(1, 1, H, W)] * n_masks
    with pytest.raises(UsageError, match="one mask per style"):
        st(content, [style_a, style_b], masks=masks)


# --------------------------------------------------------------------------- colour


def test_color_match_with_stored_stats_or_preset_raises(st, content, style_a):
    stats = st.style_stats(style_a)
    with pytest.raises(UsageError, match="luminance"):
        st(content, stats, color="match")
    presets.save_preset("mine", stats)
    with pytest.raises(UsageError, match="colour matching needs style images"):
        st(content, "mine", color="match")


def test_color_match_recolours_the_style(st, content, style_a):
    out_none = st(content, style_a)
    out_match = st(content, style_a, color="match")
    assert out_match.shape == content.shape
    assert out_match.min() >= 0 and out_match.max() <= 1
    assert not torch.allclose(out_none, out_match, atol=1e-3)


@pytest.mark.parametrize("kind", ["tensor", "path", "preset"])
def test_color_luminance_keeps_content_chroma(st, content, style_a, tmp_path, kind):
    if kind == "tensor":
        style = style_a
    elif kind == "path":
        style = tmp_path / "style.png"
        save_image(style, style_a)
    else:
        presets.save_preset("lum", st.style_stats(style_a))
        style = "lum"
    out = st(content, style, color="luminance")
    assert out.shape == content.shape
    iq_out, iq_c = rgb_to_yiq(out)[:, 1:], rgb_to_yiq(content)[:, 1:]
    # Where no channel was clamped, the chroma is exactly the content's.
    unclamped = ((out > 0) & (out < 1)).all(dim=1, keepdim=True).expand_as(iq_out)
    assert unclamped.float().mean() > 0.8
    torch.testing.assert_close(iq_out[unclamped], iq_c[unclamped], rtol=0, atol=1e-5)
    assert (iq_out - iq_c).abs().mean() < 0.01
    # Without colour preservation the decoder's own colours come through.
    assert (rgb_to_yiq(st(content, style_a))[:, 1:] - iq_c).abs().mean() > 0.02


# --------------------------------------------------------------------------- shapes, tiling, precision


@pytest.mark.parametrize("hw", [(77, 131), (5, 7), (131, 77)])
def test_output_shape_and_range(st, style_a, hw):
    c = _image(*hw, seed=4)
    out = st(c, style_a)
    assert out.shape == (1, 3, *hw)
    assert out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.isfinite(out).all()


def test_three_dim_content_and_nchw_layout(dec, st, content, style_a):
    ref = st(content, style_a)
    torch.testing.assert_close(st(content[0], style_a), ref, rtol=0, atol=0)
    nchw = AdaINStylizer(dec, precision="fp32", style_size=64, channels_last=False)
    torch.testing.assert_close(nchw(content, style_a), ref, rtol=0, atol=1e-5)


def test_bad_content_shape_raises(st, style_a):
    with pytest.raises(ValueError, match="RGB"):
        st(torch.rand(1, 1, 16, 16), style_a)


def test_tiled_equals_untiled(dec, st, style_a):
    c = _image(77, 131, seed=5)
    tiled = AdaINStylizer(dec, precision="fp32", style_size=64, max_pixels=64 * 64, tile=64)
    calls = []
    handle = tiled.decoder.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape))
    try:
        out_tiled = tiled(c, style_a)
    finally:
        handle.remove()
    assert len(calls) > 1  # really decoded in tiles
    out = st(c, style_a)
    assert out_tiled.shape == out.shape == (1, 3, 77, 131)
    assert (out_tiled - out).abs().max() < 1e-4


@pytest.mark.parametrize("tile", [60, 32, 100])
def test_bad_tile_raises(dec, tile):
    with pytest.raises(ValueError, match="tile"):
        AdaINStylizer(dec, precision="fp32", tile=tile)


def test_bf16_close_to_fp32(dec, st, content, style_a):
    bf = AdaINStylizer(copy.deepcopy(dec), precision="bf16", style_size=64)  # converts its decoder in place
    assert bf.precision == "bf16"
    out_bf = bf(content, style_a)
    out = st(content, style_a)
    assert out_bf.dtype == torch.float32 and out_bf.shape == out.shape
    diff = (out_bf - out).abs()
    assert diff.max() < 0.1 and diff.mean() < 0.02


# --------------------------------------------------------------------------- style inputs


def test_style_as_path_tensor_stats_and_preset_agree(st, content, style_a, tmp_path):
    path = tmp_path / "style.png"
    save_image(path, style_a)
    tensor = load_image(path)  # what the path decodes to (8-bit)
    stats = st.style_stats(tensor)
    presets.save_preset("saved_style", stats)
    ref = st(content, tensor)
    for spec in (str(path), path, stats, "saved_style"):
        torch.testing.assert_close(st(content, spec), ref, rtol=0, atol=1e-6)
    # stats may also come as flat (512,) tensors
    torch.testing.assert_close(st(content, (stats[0].view(-1), stats[1].view(-1))), ref, rtol=0, atol=1e-6)


def test_unknown_preset_name(st, content):
    with pytest.raises(InstyleError, match="instyle styles") as exc:
        st(content, "no_such_style_here")
    assert "no_such_style_here" in str(exc.value)


def test_missing_style_file(st, content, tmp_path):
    with pytest.raises(InstyleError, match="missing.png"):
        st(content, str(tmp_path / "missing.png"))


# --------------------------------------------------------------------------- decoders


def test_decoder_from_file_equals_module(dec, st, content, style_a, tmp_path):
    path = save_model(tmp_path / "dec.safetensors", dec, dtype=torch.float32)
    from_file = AdaINStylizer(str(path), precision="fp32", style_size=64)
    assert isinstance(from_file.decoder, AdaINDecoder)
    torch.testing.assert_close(from_file(content, style_a), st(content, style_a), rtol=0, atol=1e-6)


@dataclass(frozen=True)
class _FakeConfig:
    channels: int = 3


class _FakeNet(nn.Module):
    def __init__(self, config=_FakeConfig()):
        super().__init__()
        self.config = config
        self.conv = nn.Conv2d(3, config.channels, 1)


def test_decoder_file_of_another_kind(tmp_path, monkeypatch):
    monkeypatch.setitem(MODEL_KINDS, "fake_net", (_FakeConfig, _FakeNet))
    path = save_model(tmp_path / "fake.safetensors", _FakeNet())
    with pytest.raises(WeightsError, match="fake_net"):
        AdaINStylizer(path, precision="fp32")


def test_decoder_module_of_another_kind():
    with pytest.raises(TypeError, match="AdaINDecoder"):
        AdaINStylizer(nn.Conv2d(512, 3, 3), precision="fp32")


def _bad_files(tmp_path, dec):
    from safetensors.torch import save_file

    good = save_model(tmp_path / "good.safetensors", dec).read_bytes()
    files = {
        "garbage": b"this is not a model file at all",
        "truncated": good[: len(good) // 2],
        "empty": b"",
    }
    for name, data in files.items():
        (tmp_path / f"{name}.safetensors").write_bytes(data)
    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))  # no instyle metadata
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04 not really a zip")
    return [*(f"{n}.safetensors" for n in files), "plain.safetensors", "bad.pt", "missing.safetensors"]


def test_corrupt_decoder_files_raise_weights_error(dec, tmp_path):
    for name in _bad_files(tmp_path, dec):
        with pytest.raises(WeightsError) as exc:
            AdaINStylizer(tmp_path / name, precision="fp32")
        assert name in str(exc.value)
        assert "\n" not in str(exc.value)


def test_decoder_weights_that_do_not_fit(dec, tmp_path):
    wide = AdaINDecoder(AdaINConfig(width=0.5))
    path = save_model(tmp_path / "dec.safetensors", wide)
    # same file, config claiming another width: the weights no longer fit
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + n].replace(b'\\"width\\": 0.5', b'\\"width\\": 0.25')
    assert header != data[8 : 8 + n]
    path.write_bytes(len(header).to_bytes(8, "little") + header + data[8 + n :])
    with pytest.raises(WeightsError, match="do not match"):
        AdaINStylizer(path, precision="fp32")


def test_missing_shipped_decoder_is_a_weights_error():
    from instyle import shipped

    with shipped.use_assets({shipped.VGG_DECODER: None}):
        with pytest.raises(WeightsError, match="decoder=PATH") as info:
            AdaINStylizer(precision="fp32", arch="vgg")
        assert "--decoder" in info.value.for_cli()  # what the command line says
        with shipped.use_assets({shipped.LIGHT_MODEL: None}), pytest.raises(WeightsError):
            AdaINStylizer(precision="fp32")  # the default network: the light one


def test_a_tuple_of_images_is_several_styles(st, content, style_a, style_b):
    torch.testing.assert_close(st(content, (style_a, style_b)), st(content, [style_a, style_b]), rtol=0, atol=0)


# --------------------------------------------------------------------------- the light network


def test_light_network_runs_every_control(light_net):
    st = AdaINStylizer(light_net, precision="fp32", style_size=64)
    assert st.arch == "light" and st.encoder_id.startswith("light/")
    content, a, b = _image(H, W, 1), _image(40, 56, 2), _image(56, 40, 3)
    assert st.encode(content).shape == (1, 64, H // 8, W // 8)  # width 0.125: 64 channels
    for kw in (
        dict(alpha=0.5),
        dict(weights=[0.3, 0.7]),
        dict(color="luminance"),
        dict(color="match"),
        dict(masks=[torch.ones(1, 1, H, W), torch.zeros(1, 1, H, W)]),
    ):
        styles = [a, b] if ("weights" in kw or "masks" in kw) else a
        out = st(content, styles, **kw)
        assert out.shape == (1, 3, H, W) and out.min() >= 0 and out.max() <= 1, kw
    torch.testing.assert_close(st(content, a, weights=None), st(content, [a, a]))


def test_light_by_arch_name_and_tiled(light_net):
    st = AdaINStylizer(arch="light", precision="fp32", style_size=64, tile=64, max_pixels=64 * 64)
    whole = AdaINStylizer(arch="light", precision="fp32", style_size=64)
    content, a = _image(120, 136, 4), _image(40, 56, 2)
    torch.testing.assert_close(st(content, a), whole(content, a), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("padding", ["zero", "reflect"])
def test_bilinear_light_network_tiled_equals_untiled(padding):
    from instyle.models import LightAdaIN, LightAdaINConfig

    torch.manual_seed(0)
    net = LightAdaIN(LightAdaINConfig(padding=padding, upsample="bilinear")).eval()
    tiled = AdaINStylizer(net, precision="fp32", style_size=64, tile=64, max_pixels=64 * 64)
    whole = AdaINStylizer(net, precision="fp32", style_size=64)
    assert tiled.decoder.layers[1].mode == "bilinear"
    calls = []
    handle = tiled.decoder.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape))
    content, a = _image(120, 136, 4), _image(40, 56, 2)
    try:
        out_tiled = tiled(content, a)
    finally:
        handle.remove()
    assert len(calls) > 1  # really decoded in tiles
    out = whole(content, a)
    assert out_tiled.shape == out.shape == (1, 3, 120, 136)
    # relative to the output (a random network's is at most ~0.04): 1e-4 absolute would hide a seam
    scale = out.abs().max()
    assert scale > 0 and (out_tiled - out).abs().max() <= 1e-5 * scale


def test_light_presets_use_the_light_statistics(light_net):
    st = AdaINStylizer(arch="light", precision="fp32")
    name = presets.list_presets()[0].name
    mean, std = st.style_stats(name)
    assert mean.shape == (1, 64, 1, 1)
    torch.testing.assert_close((mean, std), presets.load_preset(name, st.encoder_id))


def test_arch_and_file_must_agree(light_net, dec, tmp_path):
    with pytest.raises(UsageError, match="is a light AdaIN network, not vgg"):
        AdaINStylizer(light_net, arch="vgg", precision="fp32")
    vgg_file = save_model(tmp_path / "dec.safetensors", dec)
    with pytest.raises(UsageError, match="is a vgg AdaIN network, not light"):
        AdaINStylizer(vgg_file, arch="light", precision="fp32")
    with pytest.raises(UsageError, match="arch"):
        AdaINStylizer(arch="tiny", precision="fp32")


def test_no_shipped_light_network_says_what_to_do():
    from instyle import shipped

    with shipped.use_assets({shipped.LIGHT_MODEL: None}), pytest.raises(WeightsError, match='arch="vgg"') as info:
        AdaINStylizer(arch="light", precision="fp32")
    assert "--arch vgg" in info.value.for_cli()


def test_the_old_name_stylizer_is_the_adain_stylizer():
    import instyle

    assert instyle.Stylizer is instyle.AdaINStylizer
    assert "AdaINStylizer" in instyle.__all__ and "Stylizer" in instyle.__all__
