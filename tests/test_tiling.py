"""instyle.tiling: tiled relu4_1 encoding and AdaIN decoding equal the whole-image computation."""

from __future__ import annotations

import pytest
import torch

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
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 6, 6, generator=g)
    smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return (smooth + 0.1 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


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
