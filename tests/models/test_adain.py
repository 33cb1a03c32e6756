"""Tests for instyle.models.adain: the decoder's shape and size, AdaINModel's alpha and style inputs.

Images are at most 44 px; one frozen encoder is shared by the module.
"""

from __future__ import annotations

import pytest
import torch

from instyle.models.adain import ENCODER_LAYER, AdaINConfig, AdaINDecoder, AdaINModel, make_encoder
from instyle.nn.functional import adain, calc_mean_std

pytestmark = pytest.mark.usefixtures("one_thread")


def _n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return AdaINModel(AdaINDecoder(AdaINConfig(width=0.25)), make_encoder()).eval()


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 40, 24, generator=g)


# --------------------------------------------------------------------------- the decoder


@pytest.mark.parametrize("h, w", [(4, 4), (3, 5), (1, 2)])
def test_decoder_output_is_8x_the_feature_size(h, w):
    dec = AdaINDecoder(AdaINConfig(width=0.25))
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


@pytest.mark.parametrize("kwargs", [{"width": 0.0}, {"width": -1.0}, {"width": 4.01}, {"in_channels": 0}])
def test_config_validation(kwargs):
    with pytest.raises(ValueError, match="width|in_channels"):
        AdaINConfig(**kwargs)


def test_config_accepts_the_range_ends():
    assert AdaINConfig(width=4.0).width == 4.0 and AdaINConfig(width=0.01).width == 0.01


# --------------------------------------------------------------------------- the full model


def test_alpha_one_is_adain_and_zero_is_reconstruction(model, images):
    content, style = images
    with torch.no_grad():
        fc = model.encode(content)
        assert fc.shape == (2, 512, 4, 4)
        stats = model.style_stats(style)
        full = model(content, style, alpha=1.0)
        recon = model(content, style, alpha=0.0)
        half = model(content, style, alpha=0.5)
        assert torch.allclose(full, model.decoder(adain(fc, stats)), atol=1e-5)
        assert torch.allclose(recon, model.decoder(fc), atol=1e-5)  # alpha 0: the style is ignored
        assert torch.allclose(recon, model(content, style.flip(0), alpha=0.0), atol=1e-5)
        assert torch.allclose(half, model.decoder(0.5 * adain(fc, stats) + 0.5 * fc), atol=1e-5)
    assert full.shape == recon.shape == (2, 3, 32, 32)
    assert not torch.allclose(full, recon, atol=1e-3)


def test_style_as_image_or_statistics(model, images):
    content, style = images
    with torch.no_grad():
        stats = model.style_stats(style[:1])
        assert stats[0].shape == stats[1].shape == (1, 512, 1, 1)
        from_image = model(content, style[:1])
        from_stats = model(content, stats)
    assert torch.allclose(from_image, from_stats, atol=1e-5)


def test_output_is_cropped_to_odd_content_sizes(model):
    content = torch.rand(1, 3, 36, 44)
    with torch.no_grad():
        assert model.encode(content).shape[-2:] == (5, 6)  # ceil-mode pooling keeps every pixel
        assert model(content, torch.rand(1, 3, 32, 32)).shape == (1, 3, 36, 44)


def test_encoder_is_frozen(model):
    assert ENCODER_LAYER == "relu4_1"
    assert not any(p.requires_grad for p in model.encoder.parameters())
    fc = calc_mean_std(model.encode(torch.rand(1, 3, 16, 16)))
    assert fc[0].shape == (1, 512, 1, 1)


def test_thin_images_decode(model):
    # 6 px high: the relu4_1 map is 1 px, which the decoder's reflection padding must cope with
    content = torch.rand(1, 3, 6, 40)
    with torch.no_grad():
        assert model.encode(content).shape[-2:] == (1, 5)
        out = model(content, torch.rand(1, 3, 32, 32))
    assert out.shape == (1, 3, 6, 40) and torch.isfinite(out).all()
