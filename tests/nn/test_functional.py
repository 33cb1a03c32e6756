"""Tests for instyle.nn.functional: calc_mean_std, instance_norm, adain, gram_matrix, total_variation,
sliced_wasserstein."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from instyle.nn import functional
from instyle.nn.functional import (
    DEFAULT_EPS,
    adain,
    calc_mean_std,
    gram_matrix,
    instance_norm,
    sliced_wasserstein,
    total_variation,
)

SHAPES = [(1, 1, 1, 2), (2, 3, 5, 7), (4, 8, 16, 16), (3, 16, 9, 4), (1, 64, 32, 32)]
HYP = settings(max_examples=50, deadline=None, derandomize=True)


def _randn(shape, seed=0, scale=1.0, shift=0.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g) * scale + shift).to(dtype)


def _biased_stats(x: torch.Tensor):
    """Per-sample, per-channel mean and biased std over H×W, computed in float64."""
    x = x.double()
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True).sqrt()
    return mean, std


# --------------------------------------------------------------------------- calc_mean_std


@pytest.mark.parametrize("shape", SHAPES)
def test_calc_mean_std_matches_biased_stats(shape):
    x = _randn(shape, seed=1, scale=2.0, shift=0.5)
    mean, std = calc_mean_std(x)
    assert mean.shape == std.shape == (shape[0], shape[1], 1, 1)
    ref_mean, ref_std = _biased_stats(x)
    ref_std_eps = (ref_std**2 + DEFAULT_EPS).sqrt()
    torch.testing.assert_close(mean.double(), ref_mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(std.double(), ref_std_eps, atol=1e-5, rtol=1e-5)


def test_calc_mean_std_constant_channel_gives_sqrt_eps():
    x = torch.full((2, 3, 4, 4), 7.0)
    mean, std = calc_mean_std(x, eps=1e-4)
    torch.testing.assert_close(mean, torch.full((2, 3, 1, 1), 7.0))
    torch.testing.assert_close(std, torch.full((2, 3, 1, 1), 1e-2))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_calc_mean_std_half_input_returns_float32(dtype):
    x = _randn((2, 4, 8, 8), seed=2, scale=3.0, shift=1.0, dtype=dtype)
    mean, std = calc_mean_std(x)
    assert mean.dtype == torch.float32 and std.dtype == torch.float32
    ref_mean, ref_std = _biased_stats(x.float())
    torch.testing.assert_close(mean.double(), ref_mean, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(std.double(), (ref_std**2 + DEFAULT_EPS).sqrt(), atol=1e-4, rtol=1e-4)


def test_calc_mean_std_float64_stays_float64():
    mean, std = calc_mean_std(_randn((1, 2, 3, 3), dtype=torch.float64))
    assert mean.dtype == std.dtype == torch.float64


@pytest.mark.parametrize("bad", [torch.zeros(3, 4, 4), torch.zeros(1, 2, 3, 4, 5), torch.zeros(4)])
def test_calc_mean_std_rejects_non_4d(bad):
    with pytest.raises(ValueError, match="4-D"):
        calc_mean_std(bad)


# --------------------------------------------------------------------------- instance_norm


@pytest.mark.parametrize("shape", SHAPES)
def test_instance_norm_matches_torch_reference(shape):
    x = _randn(shape, seed=3, scale=4.0, shift=-2.0)
    c = shape[1]
    w = _randn((c,), seed=4)
    b = _randn((c,), seed=5)
    ours = instance_norm(x, w, b)
    ref = torch.nn.functional.instance_norm(x, weight=w, bias=b, eps=DEFAULT_EPS)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    # without affine parameters as well
    torch.testing.assert_close(
        instance_norm(x), torch.nn.functional.instance_norm(x, eps=DEFAULT_EPS), atol=1e-5, rtol=1e-5
    )


def test_instance_norm_per_sample_affine():
    x = _randn((3, 4, 6, 6), seed=6)
    w = _randn((3, 4), seed=7)
    b = _randn((3, 4), seed=8)
    out = instance_norm(x, w, b)
    for i in range(3):
        ref = torch.nn.functional.instance_norm(x[i : i + 1], weight=w[i], bias=b[i], eps=DEFAULT_EPS)
        torch.testing.assert_close(out[i : i + 1], ref, atol=1e-5, rtol=1e-5)


def test_instance_norm_rejects_bad_affine_shape():
    x = _randn((2, 3, 4, 4))
    with pytest.raises(ValueError, match="affine"):
        instance_norm(x, torch.ones(2, 3, 1))


def test_instance_norm_output_has_mean_beta_std_gamma():
    x = _randn((4, 6, 12, 10), seed=9, scale=3.0, shift=5.0)
    gamma = _randn((6,), seed=10, scale=2.0).abs() + 0.1
    beta = _randn((6,), seed=11, scale=3.0)
    mean, std = _biased_stats(instance_norm(x, gamma, beta))
    torch.testing.assert_close(mean, beta.double().view(1, 6, 1, 1).expand_as(mean), atol=1e-4, rtol=0)
    # std = γ·σ/sqrt(σ² + eps): relative deviation from γ is about eps/(2σ²) ≈ 5e-7 here
    torch.testing.assert_close(std, gamma.double().view(1, 6, 1, 1).expand_as(std), atol=0, rtol=1e-4)


def test_instance_norm_negative_gamma_flips_sign():
    x = _randn((1, 2, 5, 5), seed=12)
    pos = instance_norm(x, torch.ones(2), torch.zeros(2))
    neg = instance_norm(x, -torch.ones(2), torch.zeros(2))
    torch.testing.assert_close(neg, -pos)
    assert pos.abs().sum() > 1.0


def test_instance_norm_is_batch_independent_unlike_batch_norm():
    x = _randn((4, 3, 8, 8), seed=13)
    y = x.clone()
    y[1:] = _randn((3, 3, 8, 8), seed=14, scale=5.0, shift=3.0)  # change the other samples only
    torch.testing.assert_close(instance_norm(x)[0], instance_norm(y)[0], atol=0, rtol=0)
    bn = torch.nn.BatchNorm2d(3).train()
    assert not torch.allclose(bn(x)[0], bn(y)[0], atol=1e-3)


def test_instance_norm_half_precision_close_to_float32():
    x = _randn((2, 4, 8, 8), seed=15, scale=2.0, shift=1.0)
    out = instance_norm(x.half(), torch.ones(4).half(), torch.zeros(4).half())
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), instance_norm(x), atol=1e-2, rtol=1e-2)


# --------------------------------------------------------------------------- adain


def _assert_stats_equal(out, target_mean, target_std, rtol=1e-4, atol=1e-4):
    mean, std = _biased_stats(out)
    torch.testing.assert_close(mean, target_mean.double().expand_as(mean), rtol=rtol, atol=atol)
    torch.testing.assert_close(std, target_std.double().expand_as(std), rtol=rtol, atol=atol)


@pytest.mark.parametrize("scale,shift", [(1.0, 0.0), (50.0, 300.0), (0.3, -2.0)])
def test_adain_transfers_style_mean_and_std(scale, shift):
    content = _randn((2, 5, 9, 11), seed=16, scale=2.0, shift=1.0)
    style = _randn((2, 5, 13, 7), seed=17, scale=scale, shift=shift)
    # per-channel variation of the style statistics
    style = style * torch.linspace(0.5, 2.0, 5).view(1, 5, 1, 1) + torch.arange(5.0).view(1, 5, 1, 1)
    out = adain(content, style)
    assert out.shape == content.shape
    s_mean, s_std = _biased_stats(style)
    _assert_stats_equal(out, s_mean, s_std)


def test_adain_with_stats_tuple_equals_feature_map():
    content = _randn((3, 4, 6, 6), seed=18)
    style = _randn((3, 4, 10, 10), seed=19, scale=3.0, shift=2.0)
    s_mean, s_std = calc_mean_std(style)
    torch.testing.assert_close(adain(content, (s_mean, s_std)), adain(content, style))
    # arbitrary stats, e.g. a stored preset
    t_mean = torch.tensor([1.0, -2.0, 30.0, 0.0]).view(1, 4, 1, 1)
    t_std = torch.tensor([0.5, 2.0, 10.0, 1.0]).view(1, 4, 1, 1)
    _assert_stats_equal(adain(content, (t_mean, t_std)), t_mean, t_std)
    _assert_stats_equal(adain(content, [t_mean, t_std]), t_mean, t_std)


def test_adain_broadcasts_single_style_over_batch():
    content = _randn((4, 3, 8, 8), seed=20)
    style = _randn((1, 3, 5, 5), seed=21, scale=2.0, shift=-1.0)
    out = adain(content, style)
    assert out.shape == (4, 3, 8, 8)
    s_mean, s_std = _biased_stats(style)
    _assert_stats_equal(out, s_mean, s_std)
    for i in range(4):
        torch.testing.assert_close(out[i : i + 1], adain(content[i : i + 1], style))


def test_adain_preserves_normalized_content_structure():
    content = _randn((1, 2, 6, 6), seed=22)
    style = _randn((1, 2, 6, 6), seed=23, scale=4.0, shift=1.0)
    out = adain(content, style)
    # normalizing the output gives back the normalized content
    torch.testing.assert_close(instance_norm(out), instance_norm(content), atol=1e-4, rtol=1e-4)


def test_adain_errors():
    content = _randn((1, 3, 4, 4))
    with pytest.raises(ValueError, match="channel"):
        adain(content, _randn((1, 4, 4, 4)))
    with pytest.raises(ValueError, match="channel"):
        adain(content, (torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1)))
    with pytest.raises(ValueError, match="4-D"):
        adain(content[0], content)
    with pytest.raises(ValueError, match="4-D"):
        adain(content, content[0])


# --------------------------------------------------------------------------- gram_matrix


def _naive_gram(feat: torch.Tensor) -> torch.Tensor:
    n, c, h, w = feat.shape
    g = torch.zeros(n, c, c, dtype=torch.float64)
    f = feat.double().reshape(n, c, h * w)
    for b in range(n):
        for i in range(c):
            for j in range(c):
                g[b, i, j] = (f[b, i] * f[b, j]).sum()
    return g


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 4, 5), (1, 6, 7, 3)])
def test_gram_matrix_matches_naive_loop(shape):
    x = _randn(shape, seed=24)
    h, w = shape[2:]
    naive = _naive_gram(x)
    torch.testing.assert_close(gram_matrix(x, normalize=False).double(), naive, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(gram_matrix(x).double(), naive / (h * w), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gram_matrix(x, normalize=True).double(), naive / (h * w), atol=1e-5, rtol=1e-5)


def test_gram_matrix_is_symmetric_psd():
    x = _randn((3, 8, 6, 6), seed=25, scale=2.0, shift=0.5)
    g = gram_matrix(x).double()
    torch.testing.assert_close(g, g.transpose(1, 2))
    eig = torch.linalg.eigvalsh(g)
    assert (eig >= -1e-6 * eig.abs().max()).all()


def test_gram_matrix_normalized_is_size_independent():
    # tiling an image 2×2 keeps the normalized gram, but quadruples the raw one
    x = _randn((1, 3, 4, 4), seed=26)
    tiled = x.repeat(1, 1, 2, 2)
    torch.testing.assert_close(gram_matrix(tiled), gram_matrix(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        gram_matrix(tiled, normalize=False), 4 * gram_matrix(x, normalize=False), atol=1e-4, rtol=1e-5
    )


def test_gram_matrix_half_input_float32_output():
    x = _randn((1, 2, 3, 3), seed=27, dtype=torch.bfloat16)
    assert gram_matrix(x).dtype == torch.float32


# --------------------------------------------------------------------------- total_variation


def test_total_variation_known_values():
    img = torch.tensor([[[[0.0, 1.0, 3.0], [0.0, 0.0, 0.0]]]])  # (1,1,2,3)
    # |dx|: 1, 2, 0, 0 -> mean 0.75 ; |dy|: 0, 1, 3 -> mean 4/3
    torch.testing.assert_close(total_variation(img), torch.tensor(0.75 + 4.0 / 3.0))
    assert total_variation(torch.full((2, 3, 5, 5), 3.0)).item() == 0.0
    assert total_variation(torch.ones(1, 1, 1, 1)).item() == 0.0


# --------------------------------------------------------------------------- hypothesis properties


@st.composite
def feature_maps(draw, max_c=8):
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, max_c))
    h = draw(st.integers(1, 9))
    w = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.0, 1e-4, 1.0, 100.0]))
    shift = draw(st.sampled_from([0.0, -3.0, 1e3]))
    return _randn((n, c, h, w), seed=seed, scale=scale, shift=shift)


@HYP
@given(feature_maps())
def test_property_calc_mean_std_finite_and_std_at_least_sqrt_eps(x):
    mean, std = calc_mean_std(x)
    assert torch.isfinite(mean).all() and torch.isfinite(std).all()
    assert (std >= math.sqrt(DEFAULT_EPS) * (1 - 1e-6)).all()


@HYP
@given(feature_maps(), st.integers(0, 2**31 - 1))
def test_property_instance_norm_finite(x, seed):
    c = x.shape[1]
    out = instance_norm(x, _randn((c,), seed=seed), _randn((c,), seed=seed + 1))
    assert out.shape == x.shape
    assert torch.isfinite(out).all()


@HYP
@given(
    n=st.integers(1, 4), c=st.integers(1, 8), seed=st.integers(0, 2**31 - 1), shift=st.sampled_from([0.0, 5.0, -1e3])
)
def test_property_instance_norm_1x1_map_gives_beta_exactly(n, c, seed, shift):
    x = _randn((n, c, 1, 1), seed=seed, scale=10.0, shift=shift)
    gamma = _randn((c,), seed=seed + 1)
    beta = _randn((c,), seed=seed + 2)
    out = instance_norm(x, gamma, beta)
    assert torch.equal(out, beta.view(1, c, 1, 1).expand(n, c, 1, 1))
    assert torch.equal(instance_norm(x), torch.zeros_like(x))


@HYP
@given(feature_maps(), feature_maps(), st.booleans())
def test_property_adain_finite(content, style, broadcast):
    c = content.shape[1]
    style = style[:, :1].expand(-1, c, -1, -1) if style.shape[1] < c else style[:, :c]
    style = style[:1] if broadcast or style.shape[0] != content.shape[0] else style
    out = adain(content, style)
    assert out.shape == content.shape
    assert torch.isfinite(out).all()


@HYP
@given(feature_maps())
def test_property_gram_matrix_finite_symmetric(x):
    g = gram_matrix(x)
    assert g.shape == (x.shape[0], x.shape[1], x.shape[1])
    assert torch.isfinite(g).all()
    torch.testing.assert_close(g, g.transpose(1, 2), atol=0, rtol=1e-6)
    assert (torch.diagonal(g, dim1=1, dim2=2) >= 0).all()


def test_module_exports():
    import instyle.nn as nn_pkg

    for name in ("adain", "calc_mean_std", "gram_matrix", "instance_norm", "total_variation"):
        assert getattr(nn_pkg, name) is getattr(functional, name)


def test_gram_matrix_under_bf16_autocast_is_float32_and_close():
    torch.manual_seed(0)
    f = torch.rand(2, 16, 12, 12)
    exact = gram_matrix(f)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast = gram_matrix(f.bfloat16())
    assert fast.dtype == torch.float32
    torch.testing.assert_close(fast, exact, rtol=2e-2, atol=1e-3)
    assert not torch.equal(fast, exact)  # really computed in bf16


# --------------------------------------------------------------------------- sliced_wasserstein


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _mean_abs_projection(v: torch.Tensor, k: int, seed: int) -> float:
    """mean_k |v · d_k| over the unit directions sliced_wasserstein draws with ``seed``."""
    dirs = torch.randn(v.numel(), k, generator=_gen(seed))
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    return (v.view(1, -1) @ dirs).abs().mean().item()


def test_sliced_wasserstein_zero_for_identical_and_permuted_clouds():
    x = torch.rand(2, 300, 3, generator=_gen(0)) * 100
    assert sliced_wasserstein(x, x.clone(), 16, generator=_gen(1)).tolist() == [0.0, 0.0]
    perm = x[:, torch.randperm(300, generator=_gen(2))]
    assert not torch.equal(perm, x)
    torch.testing.assert_close(sliced_wasserstein(x, perm, 16, generator=_gen(1)), torch.zeros(2), atol=1e-5, rtol=0)
    # a different cloud is not at distance 0
    assert (sliced_wasserstein(x, torch.rand(2, 300, 3, generator=_gen(3)) * 100, 16, generator=_gen(1)) > 1).all()


@pytest.mark.parametrize("line", [True, False], ids=["1d-like", "3d"])
def test_sliced_wasserstein_of_a_shift_is_the_mean_projected_shift(line):
    g = _gen(4)
    if line:  # points along one direction, with a little spread off it
        u = torch.rand(1, 200, 1, generator=g)
        x = u * torch.tensor([1.0, 2.0, -0.5]) + 0.01 * torch.randn(1, 200, 3, generator=g)
    else:
        x = torch.randn(1, 200, 3, generator=g)
    v = torch.tensor([3.0, -1.0, 2.0])
    got = sliced_wasserstein(x + v, x, 32, generator=_gen(7))
    assert got.shape == (1,)
    assert got.item() == pytest.approx(_mean_abs_projection(v, 32, 7), abs=1e-4)
    # symmetric, and another seed draws other directions (another average of |v·d|)
    assert sliced_wasserstein(x, x + v, 32, generator=_gen(7)).item() == pytest.approx(got.item(), abs=1e-4)
    other = sliced_wasserstein(x + v, x, 32, generator=_gen(8)).item()
    assert other == pytest.approx(_mean_abs_projection(v, 32, 8), abs=1e-4)
    # many directions: the average |v·d| over the sphere, |v|/2 in 3-D
    many = sliced_wasserstein(x + v, x, 4096, generator=_gen(9)).item()
    assert many == pytest.approx(v.norm().item() / 2, rel=0.03)


def test_sliced_wasserstein_clouds_of_different_sizes():
    # the same segment, sampled at 600 and at 250 evenly spaced points: nearly no distance
    a = torch.linspace(0, 1, 600).view(1, 600, 1) * torch.tensor([1.0, 2.0, 2.0])
    b = torch.linspace(0, 1, 250).view(1, 250, 1) * torch.tensor([1.0, 2.0, 2.0])
    near = sliced_wasserstein(a, b, 16, generator=_gen(5)).item()
    v = torch.tensor([0.0, 0.0, 1.5])
    shifted = sliced_wasserstein(a, b + v, 16, generator=_gen(5)).item()
    assert near < 0.01
    assert shifted == pytest.approx(_mean_abs_projection(v, 16, 5), abs=0.01)
    # clouds smaller than the quantile count (10 vs 300 points) still compare
    few = sliced_wasserstein(a[:, ::60], b, 16, generator=_gen(5))
    assert few.shape == (1,) and torch.isfinite(few).all() and few.item() < 0.2


def test_sliced_wasserstein_single_target_broadcasts_over_the_batch():
    x = torch.rand(3, 80, 3, generator=_gen(6))
    y = torch.rand(1, 50, 3, generator=_gen(7)) + 0.5
    got = sliced_wasserstein(x, y, 8, generator=_gen(0))
    assert got.shape == (3,) and got.dtype == torch.float32
    each = [sliced_wasserstein(x[i : i + 1], y, 8, generator=_gen(0)).item() for i in range(3)]
    assert got.tolist() == pytest.approx(each, abs=1e-6)


def test_sliced_wasserstein_gradient_moves_x_toward_y():
    x = torch.zeros(1, 40, 3, requires_grad=True)
    y = torch.ones(1, 40, 3)
    d = sliced_wasserstein(x, y, 32, generator=_gen(0))
    d.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    step = x.detach() - 0.5 * x.grad
    assert sliced_wasserstein(step, y, 32, generator=_gen(0)).item() < d.item()


@pytest.mark.parametrize(
    "x, y",
    [
        (torch.rand(50, 3), torch.rand(1, 40, 3)),  # 2-D
        (torch.rand(2, 50, 3), torch.rand(40, 3)),
        (torch.rand(2, 50, 3), torch.rand(2, 40, 4)),  # different point dimensions
        (torch.rand(2, 5, 50, 3), torch.rand(2, 40, 3)),  # 4-D
    ],
)
def test_sliced_wasserstein_rejects_bad_shapes(x, y):
    with pytest.raises(ValueError, match="point clouds"):
        sliced_wasserstein(x, y)
