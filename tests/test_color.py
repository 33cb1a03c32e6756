"""Tests for instyle.color: YIQ and CIELAB conversion, CORAL colour matching, luminance-only transfer."""

from __future__ import annotations

import pytest
import torch

from instyle.choices import COLOR_MODES
from instyle.color import (
    combine_luminance,
    luminance,
    luminance_only,
    match_colors,
    rgb_to_lab,
    rgb_to_yiq,
    yiq_to_rgb,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _low_contrast(seed, h=24, w=20, center=(0.5, 0.5, 0.5), mix=None, spread=0.25):
    """Correlated random colours around ``center`` that stay well inside (0, 1)."""
    g = _gen(seed)
    u = torch.rand(3, h * w, generator=g) - 0.5  # bounded, uniform in [-0.5, 0.5]
    if mix is None:
        mix = torch.eye(3) + 0.6 * torch.rand(3, 3, generator=g)
    mix = mix / mix.abs().sum(1, keepdim=True)  # each channel stays within ±0.5 * spread*2
    x = torch.tensor(center).view(3, 1) + 2 * spread * (mix @ u)
    assert x.min() > 0.05 and x.max() < 0.95
    return x.view(1, 3, h, w)


def _stats(img):
    x = img[0].reshape(3, -1).double()
    return x.mean(1), torch.cov(x)


def _yiq_of(r, g, b):
    return rgb_to_yiq(torch.tensor([r, g, b], dtype=torch.float32).view(1, 3, 1, 1)).flatten()


# --------------------------------------------------------------------------- YIQ


def test_modes():
    assert COLOR_MODES == ("none", "match", "luminance")


def test_yiq_round_trip():
    x = torch.rand(2, 3, 9, 7, generator=_gen(0))
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(x)), x, atol=1e-5, rtol=0)
    y = torch.randn(1, 3, 5, 5, generator=_gen(1))  # any YIQ triple, even out of gamut
    torch.testing.assert_close(rgb_to_yiq(yiq_to_rgb(y)), y, atol=1e-5, rtol=0)
    x64 = x.double()
    assert rgb_to_yiq(x64).dtype == torch.float64
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(x64)), x64, atol=1e-12, rtol=0)


def test_yiq_known_values():
    white = _yiq_of(1, 1, 1)
    torch.testing.assert_close(white, torch.tensor([1.0, 0.0, 0.0]), atol=1e-6, rtol=0)
    grey = _yiq_of(0.3, 0.3, 0.3)  # greys carry no chroma
    torch.testing.assert_close(grey, torch.tensor([0.3, 0.0, 0.0]), atol=1e-6, rtol=0)
    red = _yiq_of(1, 0, 0)
    torch.testing.assert_close(red, torch.tensor([0.299, 0.595716, 0.211456]), atol=1e-6, rtol=0)
    # the transform acts per pixel: a different pixel layout gives the same values
    img = torch.zeros(1, 3, 2, 3)
    img[0, :, 1, 2] = torch.tensor([1.0, 0.0, 0.0])
    torch.testing.assert_close(rgb_to_yiq(img)[0, :, 1, 2], red)
    assert rgb_to_yiq(img)[0, :, 0, 0].abs().max() == 0


def test_luminance_values():
    px = lambda r, g, b: torch.tensor([r, g, b], dtype=torch.float32).view(1, 3, 1, 1)  # noqa: E731
    assert luminance(px(1, 1, 1)).item() == pytest.approx(1.0, abs=1e-6)
    assert luminance(px(0, 1, 0)).item() == pytest.approx(0.587, abs=1e-6)
    assert luminance(px(0, 0, 1)).item() == pytest.approx(0.114, abs=1e-6)
    x = torch.rand(2, 3, 4, 5, generator=_gen(2))
    y = luminance(x)
    assert y.shape == (2, 1, 4, 5)
    torch.testing.assert_close(y[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])


# --------------------------------------------------------------------------- CIELAB


def _lab_of(r, g, b):
    return rgb_to_lab(torch.tensor([r, g, b], dtype=torch.float32).view(1, 3, 1, 1)).flatten()


@pytest.mark.parametrize(
    "rgb, lab",
    [
        ((1, 1, 1), (100.0, 0.0, 0.0)),  # the D65 white
        ((0, 0, 0), (0.0, 0.0, 0.0)),
        ((1, 0, 0), (53.24, 80.09, 67.20)),  # the sRGB primaries' textbook values
        ((0, 1, 0), (87.73, -86.18, 83.18)),
        ((0, 0, 1), (32.30, 79.19, -107.86)),
        ((0.5, 0.5, 0.5), (53.39, 0.0, 0.0)),  # sRGB mid-grey: not L 50 (the transfer curve)
    ],
)
def test_lab_known_values(rgb, lab):
    torch.testing.assert_close(_lab_of(*rgb), torch.tensor(lab), atol=0.05, rtol=0)


def test_lab_matches_scikit_image():
    skcolor = pytest.importorskip("skimage.color")
    x = torch.rand(2, 3, 5, 7, generator=_gen(30))
    got = rgb_to_lab(x)
    assert got.shape == x.shape and got.dtype == torch.float32
    for xi, gi in zip(x, got):
        want = torch.from_numpy(skcolor.rgb2lab(xi.permute(1, 2, 0).double().numpy())).permute(2, 0, 1).float()
        torch.testing.assert_close(gi, want, atol=0.01, rtol=0)


def test_lab_is_per_pixel_clamped_and_greys_have_no_chroma():
    grey = torch.linspace(0, 1, 11).view(1, 1, 1, 11).expand(1, 3, 2, 11)
    lab = rgb_to_lab(grey)
    assert lab[:, 1:].abs().max() < 1e-3
    assert (lab[0, 0, 0].diff() > 0).all()  # L rises with the grey level
    # out-of-range values are clamped first
    torch.testing.assert_close(_lab_of(1.5, -0.2, 0.0), _lab_of(1.0, 0.0, 0.0))
    # each pixel on its own: a pixel's value does not depend on its neighbours
    img = torch.zeros(1, 3, 2, 3)
    img[0, :, 1, 2] = torch.tensor([1.0, 0.0, 0.0])
    torch.testing.assert_close(rgb_to_lab(img)[0, :, 1, 2], _lab_of(1, 0, 0))
    assert rgb_to_lab(img)[0, :, 0, 0].abs().max() < 1e-5


def test_lab_gradient_is_finite_at_black_and_white():
    x = torch.tensor([0.0, 1.0, 1e-4, 0.5]).view(1, 1, 2, 2).repeat(1, 3, 1, 1).requires_grad_()
    rgb_to_lab(x)[:, 0].sum().backward()  # L
    assert torch.isfinite(x.grad).all()
    assert (x.grad > 0).all()  # brighter in any channel: lighter, even at 0 and at 1
    x.grad = None
    rgb_to_lab(x).sum().backward()
    assert torch.isfinite(x.grad).all()


# --------------------------------------------------------------------------- colour matching


def test_match_colors_mean_and_covariance():
    src = _low_contrast(3, 24, 20, center=(0.55, 0.45, 0.5))
    tgt = _low_contrast(
        4,
        16,
        30,
        center=(0.4, 0.5, 0.6),
        spread=0.2,
        mix=torch.tensor([[1.0, 0.5, 0.0], [0.2, 1.0, -0.4], [-0.3, 0.3, 1.0]]),
    )
    out = match_colors(src, tgt)
    assert out.shape == src.shape and out.dtype == src.dtype
    assert out.min() > 0 and out.max() < 1  # nothing clipped, so the moments are exact
    mu_o, cov_o = _stats(out)
    mu_t, cov_t = _stats(tgt)
    mu_s, cov_s = _stats(src)
    assert (mu_s - mu_t).abs().max() > 0.05 and (cov_s - cov_t).abs().max() > 1e-3  # it had work to do
    torch.testing.assert_close(mu_o, mu_t, atol=1e-4, rtol=0)
    scale = cov_t.abs().max().item()
    torch.testing.assert_close(cov_o, cov_t, atol=1e-3 * scale, rtol=0)


def test_match_colors_is_affine_and_keeps_structure():
    src = _low_contrast(5)
    tgt = _low_contrast(6, center=(0.3, 0.6, 0.5), spread=0.15)
    out = match_colors(src, tgt)
    # the recolouring is x' = A x + b: fitting it by least squares leaves no residual
    X = torch.cat([src[0].reshape(3, -1).double(), torch.ones(1, src[0, 0].numel(), dtype=torch.float64)])
    Y = out[0].reshape(3, -1).double()
    coef = torch.linalg.lstsq(X.T, Y.T).solution
    torch.testing.assert_close(X.T @ coef, Y.T, atol=1e-5, rtol=0)
    # matching an image to itself leaves it (almost) unchanged
    torch.testing.assert_close(match_colors(src, src), src, atol=1e-4, rtol=0)


def test_match_colors_batch_and_range():
    src = torch.cat([_low_contrast(7), torch.rand(1, 3, 24, 20, generator=_gen(8))])
    tgt = torch.rand(1, 3, 10, 10, generator=_gen(9)) ** 3  # strong colours: output gets clipped
    out = match_colors(src, tgt)
    assert out.shape == (2, 3, 24, 20)
    assert out.min() >= 0 and out.max() <= 1
    # each batch item is matched on its own
    torch.testing.assert_close(out[:1], match_colors(src[:1], tgt))
    torch.testing.assert_close(out[1:], match_colors(src[1:], tgt))
    with pytest.raises(ValueError, match="RGB"):
        match_colors(torch.rand(1, 1, 4, 4), tgt)
    with pytest.raises(ValueError, match="RGB"):
        match_colors(torch.rand(3, 4, 4), tgt)


# --------------------------------------------------------------------------- luminance-only


def test_luminance_only_grey_channels():
    x = torch.rand(2, 3, 6, 5, generator=_gen(10))
    out = luminance_only(x)
    assert out.shape == x.shape
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    torch.testing.assert_close(out[:, :1], luminance(x))
    # grey images have Y = the grey value and no chroma
    yiq = rgb_to_yiq(out)
    assert yiq[:, 1:].abs().max() < 1e-5


def test_luminance_only_with_reference_takes_reference_stats():
    img = torch.rand(1, 3, 20, 16, generator=_gen(11))  # full-range luminance
    ref = _low_contrast(12, 12, 18, center=(0.45, 0.5, 0.55), spread=0.2)
    out = luminance_only(img, reference=ref)
    assert out.min() > 0 and out.max() < 1  # unclipped
    assert torch.equal(out[:, 0], out[:, 2])
    y, yr = luminance(out).double(), luminance(ref).double()
    assert y.mean().item() == pytest.approx(yr.mean().item(), abs=1e-5)
    assert y.std(correction=0).item() == pytest.approx(yr.std(correction=0).item(), rel=1e-3)
    # the spatial pattern is img's luminance (an affine function of it)
    yi = luminance(img).double().flatten()
    assert torch.corrcoef(torch.stack([yi, y.flatten()]))[0, 1].item() == pytest.approx(1.0, abs=1e-6)
    # a reference whose luminance range exceeds [0, 1] after the shift gives a clamped image
    bright_ref = torch.rand(1, 3, 8, 8, generator=_gen(20)) * 0.1 + 0.9
    bright_ref[..., :4, :] = 0.3  # large std around a high mean
    out = luminance_only(img, reference=bright_ref)
    assert out.min() >= 0 and out.max() <= 1 and (out == 1).any()


def test_combine_luminance_keeps_stylized_y_and_content_iq():
    content = _low_contrast(13, 16, 12, spread=0.12)
    stylized = _low_contrast(14, 16, 12, center=(0.5, 0.52, 0.48), spread=0.15)
    out = combine_luminance(stylized, content)
    assert out.shape == stylized.shape
    assert out.min() > 0 and out.max() < 1  # unclipped
    yo, yc, ys = rgb_to_yiq(out), rgb_to_yiq(content), rgb_to_yiq(stylized)
    assert (ys[:, 0] - yc[:, 0]).abs().max() > 0.05 and (ys[:, 1:] - yc[:, 1:]).abs().max() > 0.01
    torch.testing.assert_close(yo[:, 0], ys[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(yo[:, 1:], yc[:, 1:], atol=1e-5, rtol=0)


def test_combine_luminance_resizes_content():
    content = torch.full((1, 3, 8, 8), 0.5) + torch.tensor([0.1, -0.05, 0.0]).view(1, 3, 1, 1)  # flat colour
    stylized = _low_contrast(15, 16, 12, spread=0.15)
    out = combine_luminance(stylized, content)
    assert out.shape == (1, 3, 16, 12)
    yo, yc = rgb_to_yiq(out), rgb_to_yiq(content)
    torch.testing.assert_close(yo[:, 0], luminance(stylized)[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(yo[0, 1:], yc[0, 1:, :1, :1].expand(2, 16, 12), atol=1e-5, rtol=0)


def test_combine_luminance_clamps():
    stylized = torch.ones(1, 3, 4, 4)  # Y = 1
    content = torch.zeros(1, 3, 4, 4)
    content[:, 0] = 1.0  # saturated red chroma
    out = combine_luminance(stylized, content)
    assert out.min() >= 0 and out.max() <= 1


# --------------------------------------------------------------------------- degenerate images


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 5, 4)])
@pytest.mark.parametrize("kind", ["tiny_random", "constant"])
def test_degenerate_images_no_nan(shape, kind):
    if kind == "constant":
        a, b = torch.full(shape, 0.3), torch.full(shape, 0.7)
    else:
        a, b = torch.rand(shape, generator=_gen(16)), torch.rand(shape, generator=_gen(17))
    results = {
        "match": match_colors(a, b),
        "match_rev": match_colors(b, a),
        "match_to_constant": match_colors(torch.rand(1, 3, 6, 6, generator=_gen(18)), torch.full((1, 3, 6, 6), 0.4)),
        "lum": luminance_only(a),
        "lum_ref": luminance_only(a, reference=b),
        "lum_ref_big": luminance_only(torch.rand(1, 3, 6, 6, generator=_gen(19)), reference=a),
        "combine": combine_luminance(a, b),
        "yiq": yiq_to_rgb(rgb_to_yiq(a)),
    }
    for name, r in results.items():
        assert torch.isfinite(r).all(), name
    for name in ("match", "match_rev", "lum", "lum_ref", "combine"):
        assert results[name].shape == shape, name
        assert results[name].min() >= 0 and results[name].max() <= 1, name
    if kind == "constant":
        # a constant source takes the target's (constant) colour
        torch.testing.assert_close(results["match"], b, atol=1e-4, rtol=0)
        # and with a reference luminance, a constant image gets the reference's mean luminance
        torch.testing.assert_close(results["lum_ref"], torch.full(shape, 0.7), atol=1e-5, rtol=0)
    if shape[-2:] == (1, 1):
        # a single pixel matched to a single pixel becomes that pixel's colour
        torch.testing.assert_close(results["match"], b, atol=1e-4, rtol=0)
        torch.testing.assert_close(results["lum_ref"], luminance(b).expand(shape), atol=1e-5, rtol=0)
