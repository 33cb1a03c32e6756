"""instyle.tiling: tiled relu4_1 encoding and AdaIN decoding equal the whole-image computation."""

from __future__ import annotations

import pytest
import torch

from helpers import smooth_tensor
from instyle.models.adain import ENCODER_LAYER, AdaINConfig, AdaINDecoder, make_encoder
from instyle.tiling import STRIDE, decode_tiled, encode_tiled

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: VGG-19


@pytest.fixture(scope="module")
def encode(one_thread):
    enc = make_encoder().eval()

    def f(x):
        with torch.no_grad():
            return enc.encode(x, ENCODER_LAYER)

    return f


@pytest.fixture(scope="module")
def decoder():
    torch.manual_seed(0)
    return AdaINDecoder(AdaINConfig(width=0.25)).eval()


def _image(h, w, seed=0):
    return smooth_tensor(h, w, seed, grid=6, noise=0.1)


def _assert_close_rel(a, b, rel=1e-5):
    assert a.shape == b.shape
    scale = b.abs().max().item()
    assert scale > 0
    diff = (a - b).abs().max().item()
    assert diff <= rel * scale, f"max abs diff {diff} vs magnitude {scale}"


@pytest.mark.parametrize("hw, tile", [((77, 131), 64), ((64, 128), 64), ((41, 200), 80)])
def test_encode_tiled_matches_whole_image(encode, hw, tile):
    img = _image(*hw, seed=1)
    whole = encode(img)
    tiled = encode_tiled(encode, img, tile)
    assert tiled.shape == (1, 512, -(-hw[0] // STRIDE), -(-hw[1] // STRIDE))
    assert tiled.dtype == whole.dtype
    _assert_close_rel(tiled, whole)


def test_encode_tiled_single_tile_is_whole_image(encode):
    img = _image(40, 56, seed=2)
    torch.testing.assert_close(encode_tiled(encode, img, 128), encode(img), rtol=0, atol=0)


@pytest.mark.parametrize("fhw, tile", [((19, 29), 8), ((10, 17), 8), ((7, 5), 16)])
def test_decode_tiled_matches_whole_map(decoder, fhw, tile):
    g = torch.Generator().manual_seed(3)
    feat = torch.relu(torch.randn(1, 512, *fhw, generator=g)) * 4
    with torch.no_grad():
        whole = decoder(feat)
        tiled = decode_tiled(decoder, feat, tile)
    assert tiled.shape == (1, 3, fhw[0] * STRIDE, fhw[1] * STRIDE)
    assert tiled.dtype == torch.float32
    _assert_close_rel(tiled, whole)


def _seeded_decoder(kind, padding, upsample):
    """(decoder, its input channels): the VGG one (width 0.25) or a light network's, seeded."""
    from instyle.models import LightAdaIN, LightAdaINConfig

    torch.manual_seed(0)
    if kind == "vgg":
        return AdaINDecoder(AdaINConfig(width=0.25, padding=padding, upsample=upsample)).eval(), 512
    return LightAdaIN(LightAdaINConfig(padding=padding, upsample=upsample)).eval().decoder, 128


@pytest.mark.parametrize("kind, padding", [("light", "zero"), ("light", "reflect"), ("vgg", "reflect")])
@pytest.mark.parametrize("fhw, tile", [((19, 29), 8), ((10, 17), 8), ((7, 5), 16)])
def test_decode_tiled_matches_whole_map_with_bilinear_upsampling(kind, padding, fhw, tile):
    # bilinear ×2 reads a neighbour on each side: a wider receptive field, still inside the halo
    dec, channels = _seeded_decoder(kind, padding, "bilinear")
    g = torch.Generator().manual_seed(3)
    feat = torch.relu(torch.randn(1, channels, *fhw, generator=g)) * 4
    with torch.no_grad():
        whole = dec(feat)
        tiled = decode_tiled(dec, feat, tile)
    assert tiled.shape == (1, 3, fhw[0] * STRIDE, fhw[1] * STRIDE)
    _assert_close_rel(tiled, whole)


def _receptive_radius(dec, channels):
    """The farthest feature px (Chebyshev distance) that one feature px's 8×8 output block reads."""
    g = torch.Generator().manual_seed(1)
    feat = (torch.relu(torch.randn(1, channels, 21, 21, generator=g)) * 4).requires_grad_()
    dec(feat)[..., 10 * STRIDE : 11 * STRIDE, 10 * STRIDE : 11 * STRIDE].sum().backward()
    ys, xs = torch.nonzero(feat.grad.abs().sum(dim=(0, 1)), as_tuple=True)
    return max((ys - 10).abs().max().item(), (xs - 10).abs().max().item())


@pytest.mark.parametrize("kind", ["light", "vgg"])
def test_decoder_halo_covers_both_upsamplings(kind):
    """DECODER_HALO against the receptive field the decoders have: 4 feature px with nearest ×2
    stages, 5 with bilinear (the halo that tiling needs at least; measured with halos 0-8)."""
    from instyle.tiling import DECODER_HALO

    assert _receptive_radius(*_seeded_decoder(kind, "zero", "nearest")) == 4
    assert _receptive_radius(*_seeded_decoder(kind, "zero", "bilinear")) == 5
    assert DECODER_HALO > 5


def test_encode_then_decode_tiled_matches_whole_pipeline(encode, decoder):
    """The width-0.25 decoder on real relu4_1 features of an odd-sized image, both passes tiled."""
    img = _image(150, 230, seed=4)
    with torch.no_grad():
        whole_feat = encode(img)
        whole = decoder(whole_feat)
        feat = encode_tiled(encode, img, 64)
        tiled = decode_tiled(decoder, feat, 64 // STRIDE)
    assert feat.shape == (1, 512, 19, 29)
    _assert_close_rel(feat, whole_feat)
    assert tiled.shape == (1, 3, 152, 232)
    _assert_close_rel(tiled, whole)


def test_decode_tiled_writes_into_out(decoder):
    feat = torch.relu(torch.randn(1, 512, 9, 11, generator=torch.Generator().manual_seed(5)))
    out = torch.full((1, 3, 72, 88), float("nan"))
    with torch.no_grad():
        got = decode_tiled(decoder, feat, 8, out=out)
        whole = decoder(feat)
    assert got is out
    assert torch.isfinite(out).all()
    _assert_close_rel(out, whole)


@pytest.mark.parametrize("tile, halo", [(60, 64), (100, 64), (64, 60), (64, 4)])
def test_encode_tiled_rejects_off_grid_tile_or_halo(tile, halo):
    called = []

    def enc(x):
        called.append(x)
        return x

    with pytest.raises(ValueError, match="multiples of 8"):
        encode_tiled(enc, torch.zeros(1, 3, 80, 80), tile, halo=halo)
    assert not called  # checked before any work
