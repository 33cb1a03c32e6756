"""Tests for the spatial-control pieces of instyle.nn.functional: masked_mean_std, adain_regions, mix_stats."""

from __future__ import annotations

import pytest
import torch

from instyle.nn.functional import DEFAULT_EPS, adain, adain_regions, calc_mean_std, masked_mean_std, mix_stats


def _randn(shape, seed=0, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * scale + shift


def _stats_of(values: torch.Tensor):
    """(C, P) values -> biased per-channel mean and std (no eps), float64."""
    v = values.double()
    mean = v.mean(dim=1)
    std = ((v - mean[:, None]) ** 2).mean(dim=1).sqrt()
    return mean, std


def _style(c, seed):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(1, c, 1, 1, generator=g) * 3
    std = torch.rand(1, c, 1, 1, generator=g) * 2 + 0.5
    return mean, std


# --------------------------------------------------------------------------- masked_mean_std


@pytest.mark.parametrize("shape", [(1, 4, 5, 7), (2, 8, 6, 6)])
@pytest.mark.parametrize("mask_dtype", [torch.bool, torch.float32])
def test_masked_mean_std_all_ones_equals_calc_mean_std(shape, mask_dtype):
    x = _randn(shape, seed=1, scale=2.0, shift=0.5)
    mask = torch.ones(1, 1, *shape[-2:], dtype=mask_dtype)
    mean, std = masked_mean_std(x, mask)
    ref_mean, ref_std = calc_mean_std(x)
    assert mean.shape == std.shape == (shape[0], shape[1], 1, 1)
    torch.testing.assert_close(mean, ref_mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(std, ref_std, rtol=1e-5, atol=1e-6)


def test_masked_mean_std_equals_stats_of_selected_pixels():
    x = _randn((2, 6, 9, 11), seed=2, scale=1.5, shift=-1.0)
    g = torch.Generator().manual_seed(3)
    mask = torch.rand(2, 1, 9, 11, generator=g) > 0.6  # per-sample masks
    mean, std = masked_mean_std(x, mask)
    for n in range(2):
        sel = x[n][:, mask[n, 0]]  # (C, P)
        ref_mean, ref_std = _stats_of(sel)
        torch.testing.assert_close(mean[n, :, 0, 0].double(), ref_mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(std[n, :, 0, 0].double(), (ref_std**2 + DEFAULT_EPS).sqrt(), rtol=1e-5, atol=1e-6)


def test_masked_mean_std_ignores_values_outside_the_mask():
    x = _randn((1, 3, 8, 8), seed=4)
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    mask[..., 2:5, 1:6] = True
    y = x.clone()
    y[..., ~mask[0, 0]] = 1e4  # huge values outside the region change nothing
    for a, b in zip(masked_mean_std(x, mask), masked_mean_std(y, mask)):
        torch.testing.assert_close(a, b)


def test_masked_mean_std_empty_region_is_finite():
    x = _randn((1, 3, 4, 4), seed=5)
    mean, std = masked_mean_std(x, torch.zeros(1, 1, 4, 4, dtype=torch.bool))
    assert torch.equal(mean, torch.zeros_like(mean))
    torch.testing.assert_close(std, torch.full_like(std, DEFAULT_EPS**0.5))


# --------------------------------------------------------------------------- adain_regions


def _two_region_labels(h, w):
    labels = torch.full((1, 1, h, w), -1, dtype=torch.long)
    labels[..., : h // 2, : w // 2] = 0
    labels[..., h // 2 :, :] = 1
    return labels


def test_adain_regions_each_region_takes_its_style_stats():
    c, h, w = 16, 10, 12
    x = _randn((1, c, h, w), seed=6, scale=2.0, shift=1.0)
    labels = _two_region_labels(h, w)
    styles = [_style(c, 10), _style(c, 11)]
    out = adain_regions(x, labels, styles)
    assert out.shape == x.shape and out.dtype == x.dtype
    for k, (s_mean, s_std) in enumerate(styles):
        sel = out[0][:, labels[0, 0] == k]  # (C, P)
        mean, std = _stats_of(sel)
        torch.testing.assert_close(mean, s_mean.view(-1).double(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(std, s_std.view(-1).double(), rtol=1e-4, atol=1e-5)


def test_adain_regions_unlabelled_positions_unchanged():
    c, h, w = 8, 10, 12
    x = _randn((1, c, h, w), seed=7)
    labels = _two_region_labels(h, w)
    out = adain_regions(x, labels, [_style(c, 12), _style(c, 13)])
    keep = labels[0, 0] == -1
    assert keep.any()
    assert torch.equal(out[0][:, keep], x[0][:, keep])
    assert not torch.allclose(out[0][:, ~keep], x[0][:, ~keep])


def test_adain_regions_one_full_region_equals_adain():
    x = _randn((1, 8, 6, 7), seed=8, scale=2.0)
    style = _style(8, 14)
    out = adain_regions(x, torch.zeros(1, 1, 6, 7, dtype=torch.long), [style])
    torch.testing.assert_close(out, adain(x, style), rtol=1e-5, atol=1e-5)


def test_adain_regions_absent_label_and_all_unlabelled():
    x = _randn((1, 4, 5, 5), seed=9)
    labels = torch.zeros(1, 1, 5, 5, dtype=torch.long)
    # style 1 has no region: skipped, no NaN
    out = adain_regions(x, labels, [_style(4, 15), _style(4, 16)])
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, adain(x, _style(4, 15)), rtol=1e-5, atol=1e-5)
    none = adain_regions(x, torch.full((1, 1, 5, 5), -1), [_style(4, 15)])
    assert torch.equal(none, x)
    assert none is not x  # a copy: the caller's features are never modified


# --------------------------------------------------------------------------- mix_stats


def test_mix_stats_weighted_sum():
    a, b = _style(8, 20), _style(8, 21)
    mean, std = mix_stats([a, b], [0.25, 0.75])
    torch.testing.assert_close(mean, 0.25 * a[0] + 0.75 * b[0])
    torch.testing.assert_close(std, 0.25 * a[1] + 0.75 * b[1])
    # tensor weights behave the same as a list
    mean_t, std_t = mix_stats([a, b], torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(mean_t, mean)
    torch.testing.assert_close(std_t, std)


def test_mix_stats_one_hot_is_that_style():
    a, b = _style(8, 22), _style(8, 23)
    mean, std = mix_stats([a, b], [0.0, 1.0])
    torch.testing.assert_close(mean, b[0])
    torch.testing.assert_close(std, b[1])


def test_mix_stats_interpolates_adain_outputs():
    """AdaIN is affine in (μ, σ): AdaIN with mixed stats equals the mix of the AdaIN outputs."""
    x = _randn((1, 8, 5, 6), seed=24)
    a, b = _style(8, 25), _style(8, 26)
    mixed = adain(x, mix_stats([a, b], [0.3, 0.7]))
    torch.testing.assert_close(mixed, 0.3 * adain(x, a) + 0.7 * adain(x, b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("weights", [[1.0], [0.5, 0.3, 0.2]])
def test_mix_stats_count_mismatch_raises(weights):
    with pytest.raises(ValueError):
        mix_stats([_style(4, 1), _style(4, 2)], weights)


def test_mix_stats_empty_raises():
    with pytest.raises(ValueError):
        mix_stats([], [])
