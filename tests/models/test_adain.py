"""Tests for instyle.models.adain: the decoder's shape and size, the frozen encoder, and the two as
AdaIN uses them (the pipeline itself, with α, styles and sizes, is tested in test_stylize.py).

Images are at most 44 px; one frozen encoder is shared by the module.
"""

from __future__ import annotations

import pytest
import torch

from instyle.choices import UPSAMPLINGS
from instyle.models.adain import ENCODER_LAYER, AdaINConfig, AdaINDecoder, make_encoder
from instyle.nn.functional import adain, alpha_blend, calc_mean_std

pytestmark = pytest.mark.usefixtures("one_thread")


def _n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def encoder():
    return make_encoder()


@pytest.fixture(scope="module")
def decoder():
    torch.manual_seed(0)
    return AdaINDecoder(AdaINConfig(width=0.25)).eval()


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 40, 24, generator=g)


# --------------------------------------------------------------------------- the decoder


@pytest.mark.parametrize("upsample", UPSAMPLINGS)
@pytest.mark.parametrize("h, w", [(4, 4), (3, 5), (1, 2)])
def test_decoder_output_is_8x_the_feature_size(h, w, upsample):
    dec = AdaINDecoder(AdaINConfig(width=0.25, upsample=upsample))
    with torch.no_grad():
        out = dec(torch.randn(2, 512, h, w))
    assert out.shape == (2, 3, 8 * h, 8 * w)


def test_decoder_in_channels():
    dec = AdaINDecoder(AdaINConfig(width=0.25, in_channels=64))
    with torch.no_grad():
        assert dec(torch.randn(1, 64, 2, 2)).shape == (1, 3, 16, 16)


def test_width_changes_the_parameter_count():
    full, half, tiny = (AdaINDecoder(AdaINConfig(width=w)) for w in (1.0, 0.5, 0.01))
    n_full, n_half = _n_params(full), _n_params(half)
    assert n_full == 3_505_219  # the paper's decoder (mirrors VGG-19 relu4_1 -> input)
    assert n_half < n_full / 2 and n_half > n_full / 8
    assert _n_params(AdaINDecoder(AdaINConfig(width=2.0))) > 3 * n_full
    # channels never drop below 8
    assert min(m.out_channels for m in tiny.modules() if isinstance(m, torch.nn.Conv2d) and m.out_channels != 3) == 8


@pytest.mark.parametrize(
    "kwargs",
    [{"width": 0.0}, {"width": -1.0}, {"width": 4.01}, {"in_channels": 0}, {"upsample": "bicubic"}, {"upsample": ""}],
)
def test_config_validation(kwargs):
    with pytest.raises(ValueError, match="width|in_channels|upsample must be one of nearest, bilinear"):
        AdaINConfig(**kwargs)


def test_config_accepts_the_range_ends():
    assert AdaINConfig(width=4.0).width == 4.0 and AdaINConfig(width=0.01).width == 0.01


def test_upsample_defaults_to_nearest_also_for_older_files():
    from instyle.checkpoint import config_from_dict

    assert AdaINConfig().upsample == "nearest"
    old = config_from_dict("adain_decoder", {"width": 1.0, "in_channels": 512, "padding": "reflect"}, "old.safetensors")
    assert old == AdaINConfig()


def test_bilinear_decoder_differs_from_nearest_on_the_same_weights():
    torch.manual_seed(0)
    near = AdaINDecoder(AdaINConfig(width=0.25)).eval()
    bil = AdaINDecoder(AdaINConfig(width=0.25, upsample="bilinear")).eval()
    bil.load_state_dict(near.state_dict())  # no weights in the upsampling: the same names and shapes
    assert [m.mode for m in bil.modules() if isinstance(m, torch.nn.Upsample)] == ["bilinear"] * 3
    feat = torch.relu(torch.randn(1, 512, 5, 3, generator=torch.Generator().manual_seed(1)))
    with torch.no_grad():
        a, b = near(feat), bil(feat)
    assert a.shape == b.shape == (1, 3, 40, 24)
    assert (a - b).abs().max() > 1e-3 * (a - a.mean()).abs().max()


# --------------------------------------------------------------------------- encoder and decoder together


def test_alpha_blend_ends(encoder, decoder, images):
    content, style = images
    with torch.no_grad():
        fc = encoder.encode(content, ENCODER_LAYER)
        assert fc.shape == (2, 512, 4, 4)
        t = adain(fc, calc_mean_std(encoder.encode(style, ENCODER_LAYER)))
        assert alpha_blend(t, fc, 1.0) is t
        assert torch.equal(alpha_blend(t, fc, 0.0), fc)  # alpha 0: the style is ignored
        assert torch.allclose(alpha_blend(t, fc, 0.5), 0.5 * t + 0.5 * fc)
        assert decoder(t).shape == (2, 3, 32, 32)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="alpha"):
            alpha_blend(t, fc, bad)


def test_odd_sizes_keep_every_pixel(encoder, decoder):
    content = torch.rand(1, 3, 36, 44)
    with torch.no_grad():
        fc = encoder.encode(content, ENCODER_LAYER)
        assert fc.shape[-2:] == (5, 6)  # ceil-mode pooling keeps every pixel
        assert decoder(fc).shape[-2:] == (40, 48)  # the caller crops to (36, 44)


def test_encoder_is_frozen(encoder):
    assert ENCODER_LAYER == "relu4_1"
    assert not any(p.requires_grad for p in encoder.parameters())
    fc = calc_mean_std(encoder.encode(torch.rand(1, 3, 16, 16), ENCODER_LAYER))
    assert fc[0].shape == (1, 512, 1, 1)


def test_thin_images_decode(encoder, decoder):
    # 6 px high: the relu4_1 map is 1 px, which the decoder's reflection padding must cope with
    content = torch.rand(1, 3, 6, 40)
    with torch.no_grad():
        fc = encoder.encode(content, ENCODER_LAYER)
        assert fc.shape[-2:] == (1, 5)
        out = decoder(adain(fc, calc_mean_std(encoder.encode(torch.rand(1, 3, 32, 32), ENCODER_LAYER))))
    assert out.shape == (1, 3, 8, 40) and torch.isfinite(out).all()
