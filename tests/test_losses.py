"""Tests for instyle.losses: per-layer losses and their energy-balanced forms, the palette distance,
the Gram <-> MMD equivalence, targets, blending, LossWeights and perceptual_terms. No VGG here:
features are random tensors or a tiny fixed conv net."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from instyle.losses import (
    STYLE_LOSSES,
    LossWeights,
    StyleTarget,
    balanced_content_loss,
    balanced_gram_loss,
    balanced_mean_std_loss,
    blend_targets,
    color_distance,
    content_loss,
    gram_loss,
    mean_std_loss,
    mmd_loss,
    perceptual_terms,
    style_loss,
    style_target,
    tv_loss,
)
from instyle.nn.functional import DEFAULT_EPS, calc_mean_std, gram_matrix

pytestmark = pytest.mark.usefixtures("one_thread")


def _randn(shape, seed=0, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * scale + shift


def _relu_feats(shape, seed=0):
    """Non-negative 'VGG-like' features (after a ReLU), with some sparsity."""
    return _randn(shape, seed=seed, scale=1.5, shift=0.3).clamp_min(0)


def _positions64(feat: torch.Tensor) -> torch.Tensor:
    # (1, C, H, W) -> (H*W, C) in float64
    return feat.double()[0].flatten(1).T


def _explicit_mmd2(x: torch.Tensor, y: torch.Tensor, k) -> float:
    """MMD² from its definition with an explicit kernel matrix over all position pairs."""
    a, b = _positions64(x), _positions64(y)
    n, m = a.shape[0], b.shape[0]
    return float(k(a, a).sum() / n**2 + k(b, b).sum() / m**2 - 2 * k(a, b).sum() / (n * m))


def _k_poly2(a, b):
    return (a @ b.T) ** 2


def _k_linear(a, b):
    return a @ b.T


def _k_gauss(sigma2):
    return lambda a, b: torch.exp(-(torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist") ** 2) / (2 * sigma2))


# --------------------------------------------------------------------------- content / gram


def test_content_loss_is_mse():
    f, t = _randn((2, 4, 5, 3), seed=1), _randn((2, 4, 5, 3), seed=2)
    expected = ((f.double() - t.double()) ** 2).sum() / f.numel()
    assert content_loss(f, t).item() == pytest.approx(expected.item(), rel=1e-5)
    assert content_loss(f, f).item() == 0.0
    # half inputs are computed in float32
    assert content_loss(f.bfloat16(), t.bfloat16()).dtype == torch.float32


def test_gram_loss_against_manual_gram():
    f = _randn((2, 3, 4, 6), seed=3)
    target = _randn((1, 3, 3), seed=4)
    F = f.double().reshape(2, 3, 24)
    G = F @ F.transpose(1, 2) / 24  # normalized by H*W
    expected = ((G - target.double()) ** 2).mean()  # target broadcast over the batch
    assert gram_loss(f, target).item() == pytest.approx(expected.item(), rel=1e-5)
    assert gram_loss(f, gram_matrix(f)).item() == pytest.approx(0.0, abs=1e-10)


# --------------------------------------------------------------------------- Gram == MMD (poly2)


@pytest.mark.parametrize(
    "c, hw_x, hw_y, seed",
    [
        (3, (4, 5), (6, 3), 0),
        (8, (7, 7), (3, 9), 1),
        (16, (5, 11), (8, 8), 2),
        (5, (1, 1), (2, 3), 3),
    ],
)
def test_gram_loss_equals_poly2_mmd(c, hw_x, hw_y, seed):
    x = _relu_feats((1, c, *hw_x), seed=seed)
    y = _relu_feats((1, c, *hw_y), seed=seed + 100)
    via_gram = gram_loss(x, gram_matrix(y)).item() * c**2
    via_mmd = mmd_loss(x, y, "poly2").item()
    explicit = _explicit_mmd2(x, y, _k_poly2)
    assert explicit > 0
    assert via_gram == pytest.approx(explicit, rel=1e-4)
    assert via_mmd == pytest.approx(explicit, rel=1e-4)
    assert via_gram == pytest.approx(via_mmd, rel=1e-4)


def test_poly2_mmd_batch_with_single_target():
    x = _relu_feats((3, 6, 4, 4), seed=5)
    y = _relu_feats((1, 6, 5, 3), seed=6)
    per_sample = [_explicit_mmd2(x[i : i + 1], y, _k_poly2) for i in range(3)]
    assert mmd_loss(x, y, "poly2").item() == pytest.approx(sum(per_sample) / 3, rel=1e-4)
    assert gram_loss(x, gram_matrix(y)).item() * 36 == pytest.approx(sum(per_sample) / 3, rel=1e-4)


# --------------------------------------------------------------------------- linear MMD


@pytest.mark.parametrize("hw_x, hw_y", [((4, 5), (6, 3)), ((1, 1), (3, 3)), ((8, 2), (2, 8))])
def test_linear_mmd_matches_definition_and_mean_difference(hw_x, hw_y):
    x = _randn((1, 7, *hw_x), seed=7, shift=0.5)
    y = _randn((1, 7, *hw_y), seed=8)
    got = mmd_loss(x, y, "linear").item()
    explicit = _explicit_mmd2(x, y, _k_linear)
    mean_diff = (x.double().mean((2, 3)) - y.double().mean((2, 3))).pow(2).sum().item()
    assert explicit == pytest.approx(mean_diff, rel=1e-6)
    assert got == pytest.approx(explicit, rel=1e-4)


# --------------------------------------------------------------------------- gaussian MMD


@pytest.mark.parametrize("sigma", [0.5, 2.0, 10.0])
def test_gaussian_mmd_with_sigma_matches_explicit(sigma):
    x = _randn((1, 5, 6, 5), seed=9)
    y = _randn((1, 5, 4, 7), seed=10, shift=0.4, scale=1.3)
    got = mmd_loss(x, y, "gaussian", sigma=sigma).item()
    explicit = _explicit_mmd2(x, y, _k_gauss(sigma**2))
    assert explicit > 0
    assert got == pytest.approx(explicit, rel=1e-4, abs=1e-7)
    assert got >= 0


def test_gaussian_mmd_default_bandwidth_is_mean_cross_distance():
    x = _randn((1, 4, 5, 5), seed=11)
    y = _randn((1, 4, 3, 6), seed=12, shift=0.3)
    a, b = _positions64(x), _positions64(y)
    s2 = (torch.cdist(a, b) ** 2).mean().item()
    got = mmd_loss(x, y, "gaussian").item()
    assert got == pytest.approx(_explicit_mmd2(x, y, _k_gauss(s2)), rel=1e-4, abs=1e-7)


def test_gaussian_mmd_nonnegative_and_zero_for_identical():
    for seed in range(5):
        x = _randn((2, 6, 4, 4), seed=seed)
        y = _randn((1, 6, 5, 3), seed=seed + 50, scale=0.5 + seed * 0.3)
        assert mmd_loss(x, y, "gaussian").item() >= -1e-6
        assert mmd_loss(x, y, "gaussian", sigma=1.0).item() >= -1e-6
        assert mmd_loss(x, x, "gaussian").item() == pytest.approx(0.0, abs=1e-6)
        assert mmd_loss(x, x, "gaussian", sigma=0.7).item() == pytest.approx(0.0, abs=1e-6)
    # and clearly positive for different distributions
    x, y = _randn((1, 3, 6, 6), seed=1), _randn((1, 3, 6, 6), seed=2, shift=3.0)
    assert mmd_loss(x, y, "gaussian").item() > 0.1


def test_gaussian_mmd_subsamples_large_maps():
    x = _randn((1, 3, 40, 40), seed=13)  # 1600 positions > 256
    y = _randn((1, 3, 40, 40), seed=14, shift=1.0)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = mmd_loss(x, y, "gaussian", max_samples=256, generator=g1)
    b = mmd_loss(x, y, "gaussian", max_samples=256, generator=g2)
    assert a.item() == b.item() > 0  # same generator seed, same subsample


def test_mmd_unknown_kernel():
    x = _randn((1, 2, 3, 3))
    with pytest.raises(ValueError, match="kernel"):
        mmd_loss(x, x, "cubic")


# --------------------------------------------------------------------------- energy-balanced terms


def _stats_energy(stats) -> float:
    m, s = stats
    return (m.double().pow(2) + s.double().pow(2)).mean().item()


def test_balanced_mean_std_loss_is_the_raw_term_over_the_target_energy():
    f = _relu_feats((1, 6, 8, 5), seed=40) * 30  # Caffe-scale-ish
    t = calc_mean_std(_relu_feats((1, 6, 9, 7), seed=41) * 50)
    got = balanced_mean_std_loss(f, t).item()
    assert got == pytest.approx(mean_std_loss(f, t).item() / _stats_energy(t), rel=1e-5)
    assert got > 0
    assert balanced_mean_std_loss(f, calc_mean_std(f)).item() == pytest.approx(0.0, abs=1e-12)
    # all-zero output statistics score 1 (up to the std's eps)
    assert balanced_mean_std_loss(torch.zeros(1, 6, 4, 4), t).item() == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("scale", [7.0, 1000.0])
def test_balanced_terms_are_scale_free(scale):
    # (upward: calc_mean_std's eps floor on the std breaks exact invariance for tiny features)
    f = _relu_feats((2, 6, 8, 5), seed=42) * 3
    other = _relu_feats((2, 6, 8, 5), seed=43) * 5
    ms = balanced_mean_std_loss(f, calc_mean_std(other))
    ms_scaled = balanced_mean_std_loss(scale * f, calc_mean_std(scale * other))
    assert ms_scaled.item() == pytest.approx(ms.item(), rel=1e-4)
    gram = balanced_gram_loss(f, gram_matrix(other))
    assert balanced_gram_loss(scale * f, gram_matrix(scale * other)).item() == pytest.approx(gram.item(), rel=1e-4)
    content = balanced_content_loss(f, other)
    assert balanced_content_loss(scale * f, scale * other).item() == pytest.approx(content.item(), rel=1e-5)
    # the raw terms are not
    assert mean_std_loss(scale * f, calc_mean_std(scale * other)).item() != pytest.approx(
        mean_std_loss(f, calc_mean_std(other)).item(), rel=0.5
    )
    assert all(v.item() > 0 for v in (ms, gram, content))


def test_balanced_losses_normalise_each_sample_on_its_own():
    """A dim sample (energy ~1) and a bright one (energy ~1e6) count alike: the batch's balanced
    loss is the mean of the samples' own, not the batch's raw loss over the batch's energy."""
    f = torch.cat([_relu_feats((1, 4, 6, 6), seed=44), 1000 * _relu_feats((1, 4, 6, 6), seed=45)])
    other = torch.cat([_relu_feats((1, 4, 6, 6), seed=46), 1000 * _relu_feats((1, 4, 6, 6), seed=47)])
    t = calc_mean_std(other)
    cases = [
        (balanced_mean_std_loss, t, lambda i: (t[0][i : i + 1], t[1][i : i + 1])),
        (balanced_gram_loss, gram_matrix(other), lambda i: gram_matrix(other[i : i + 1])),
        (balanced_content_loss, other, lambda i: other[i : i + 1]),
    ]
    for loss, target, target_of in cases:
        each = [loss(f[i : i + 1], target_of(i)).item() for i in range(2)]
        assert loss(f, target).item() == pytest.approx(sum(each) / 2, rel=1e-5), loss.__name__
    # the batch-wide normalisation would be almost all the bright sample's error
    batch_wide = mean_std_loss(f, t).item() / _stats_energy(t)
    each = [balanced_mean_std_loss(f[i : i + 1], (t[0][i : i + 1], t[1][i : i + 1])).item() for i in range(2)]
    assert batch_wide == pytest.approx(each[1], rel=0.01)
    assert balanced_mean_std_loss(f, t).item() != pytest.approx(batch_wide, rel=0.05)
    assert abs(each[0] - each[1]) > 0.1 * max(each)  # the two samples really differ


def test_balanced_gram_and_content_match_their_raw_terms_for_one_sample():
    f = _relu_feats((1, 5, 7, 6), seed=48) * 20
    other = _relu_feats((1, 5, 9, 4), seed=49) * 40
    tg = gram_matrix(other)
    assert balanced_gram_loss(f, tg).item() == pytest.approx(
        gram_loss(f, tg).item() / tg.double().pow(2).mean().item(), rel=1e-5
    )
    assert balanced_gram_loss(f, gram_matrix(f)).item() == pytest.approx(0.0, abs=1e-12)
    tc = _relu_feats((1, 5, 7, 6), seed=50) * 40
    assert balanced_content_loss(f, tc).item() == pytest.approx(
        content_loss(f, tc).item() / tc.double().pow(2).mean().item(), rel=1e-5
    )
    # one target Gram matrix for a whole batch
    batch = torch.cat([f, 2 * f])
    expected = (balanced_gram_loss(f, tg) + balanced_gram_loss(2 * f, tg)) / 2
    torch.testing.assert_close(balanced_gram_loss(batch, tg), expected)


# --------------------------------------------------------------------------- palette distance


def _from_lab(lab) -> torch.Tensor:
    """(H, W, 3) CIELAB -> (1, 3, H, W) sRGB, with scikit-image's inverse conversion."""
    skcolor = pytest.importorskip("skimage.color")
    return torch.from_numpy(skcolor.lab2rgb(lab)).permute(2, 0, 1)[None].float()


def _mean_abs_cos(seed=0, k=64) -> float:
    """mean_k |d_k[0]|: the sliced distance of a unit L shift, over color_distance's directions."""
    d = torch.randn(3, k, generator=torch.Generator().manual_seed(seed))
    return (d[0] / d.norm(dim=0)).abs().mean().item()


def test_color_distance_zero_for_itself_and_pixel_order_free():
    img = torch.rand(2, 3, 30, 40, generator=torch.Generator().manual_seed(51))
    d0 = color_distance(img, img)
    assert d0.shape == (2,) and d0.tolist() == [0.0, 0.0]
    perm = torch.randperm(30 * 40, generator=torch.Generator().manual_seed(52))
    shuffled = img.flatten(2)[:, :, perm].view_as(img)
    assert not torch.equal(shuffled, img)
    torch.testing.assert_close(color_distance(shuffled, img), torch.zeros(2), atol=1e-4, rtol=0)
    # another image with the same pixels in another shape: the same palette
    other = torch.rand(2, 3, 30, 40, generator=torch.Generator().manual_seed(53)) * 0.5
    torch.testing.assert_close(
        color_distance(shuffled.reshape(2, 3, 60, 20), other), color_distance(img, other), atol=1e-4, rtol=0
    )


def test_color_distance_of_a_uniform_lab_shift():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    lab = np.stack([rng.uniform(35, 60, (20, 24)), rng.uniform(-15, 15, (20, 24)), rng.uniform(-15, 15, (20, 24))], -1)
    brighter = lab.copy()
    brighter[..., 0] += 10  # every pixel 10 ΔE lighter
    d = color_distance(_from_lab(lab), _from_lab(brighter)).item()
    grey = color_distance(_from_lab(np.full((4, 4, 3), [40.0, 0, 0])), _from_lab(np.full((4, 4, 3), [50.0, 0, 0])))
    assert d > 1
    assert d == pytest.approx(grey.item(), abs=0.02)  # a shift is a shift, whatever the palette
    # the sliced W1 of a shift v is mean_k |v·d_k|: ΔE times the directions' mean |cos| (~1/2 in 3-D)
    assert d == pytest.approx(10 * _mean_abs_cos(), abs=0.02)
    # a larger shift: proportionally larger
    brighter[..., 0] += 10
    assert color_distance(_from_lab(lab), _from_lab(brighter)).item() == pytest.approx(2 * d, rel=0.01)


def test_color_distance_batch_single_target_and_gradient():
    g = torch.Generator().manual_seed(54)
    img = torch.rand(3, 3, 12, 10, generator=g).requires_grad_()
    target = torch.rand(1, 3, 16, 16, generator=g)
    d = color_distance(img, target)
    assert d.shape == (3,) and (d > 0).all()
    each = [color_distance(img[i : i + 1], target).item() for i in range(3)]
    assert d.tolist() == pytest.approx(each, abs=1e-5)
    d.sum().backward()
    assert torch.isfinite(img.grad).all() and img.grad.abs().sum() > 0


# --------------------------------------------------------------------------- mean/std, tv


def test_mean_std_loss_zero_for_own_stats_and_manual():
    f = _relu_feats((2, 5, 6, 4), seed=15)
    assert mean_std_loss(f, calc_mean_std(f)).item() == pytest.approx(0.0, abs=1e-12)
    t_mean = _randn((1, 5, 1, 1), seed=16)
    t_std = _randn((1, 5, 1, 1), seed=17).abs() + 0.1
    x = f.double().flatten(2)
    mean = x.mean(2)
    std = (x.var(2, unbiased=False) + DEFAULT_EPS).sqrt()
    expected = ((mean - t_mean.double().view(1, 5)) ** 2).mean() + ((std - t_std.double().view(1, 5)) ** 2).mean()
    assert mean_std_loss(f, (t_mean, t_std)).item() == pytest.approx(expected.item(), rel=1e-5)


def test_tv_loss_constant_and_ramps():
    assert tv_loss(torch.full((2, 3, 7, 5), 0.4)).item() == 0.0
    h, w = 4, 6
    xs = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
    ys = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
    ramp_x = (0.1 * xs).expand(1, 3, h, w)
    assert tv_loss(ramp_x).item() == pytest.approx(0.1, rel=1e-5)
    ramp_xy = (0.1 * xs - 0.05 * ys).expand(1, 3, h, w)
    assert tv_loss(ramp_xy).item() == pytest.approx(0.15, rel=1e-5)
    # checkerboard of amplitude 1: every neighbour differs by 1
    cb = ((xs + ys) % 2).expand(1, 3, h, w)
    assert tv_loss(cb).item() == pytest.approx(2.0)
    assert tv_loss(ramp_x.half()).dtype == torch.float32


# --------------------------------------------------------------------------- targets / blending


def test_style_target_kinds():
    f = _relu_feats((1, 4, 5, 5), seed=18).requires_grad_(True)
    g = style_target(f, "gram")
    torch.testing.assert_close(g.gram, gram_matrix(f.detach()))
    assert g.mean_std is None and g.features is None and not g.gram.requires_grad
    ms = style_target(f, "mean_std")
    torch.testing.assert_close(ms.mean_std[0], calc_mean_std(f.detach())[0])
    torch.testing.assert_close(ms.mean_std[1], calc_mean_std(f.detach())[1])
    for kind in ("mmd_linear", "mmd_poly2", "mmd_gaussian"):
        t = style_target(f, kind)
        assert torch.equal(t.features, f.detach()) and not t.features.requires_grad
    with pytest.raises(ValueError, match="unknown style loss"):
        style_target(f, "gramm")


def test_blend_gram_targets_weights_normalized():
    f1, f2 = _relu_feats((1, 4, 5, 5), seed=19), _relu_feats((1, 4, 3, 7), seed=20)
    t1, t2 = style_target(f1, "gram"), style_target(f2, "gram")
    b = blend_targets([t1, t2], [3, 1])
    torch.testing.assert_close(b.gram, 0.75 * t1.gram + 0.25 * t2.gram)
    # scale invariance of the weights
    torch.testing.assert_close(blend_targets([t1, t2], [0.3, 0.1]).gram, b.gram)
    # a zero weight drops that style
    torch.testing.assert_close(blend_targets([t1, t2], [1, 0]).gram, t1.gram)
    torch.testing.assert_close(blend_targets([t1], [5.0]).gram, t1.gram)


def test_blend_mean_std_targets():
    f1, f2 = _relu_feats((1, 4, 5, 5), seed=21), _relu_feats((1, 4, 6, 2), seed=22)
    t1, t2 = style_target(f1, "mean_std"), style_target(f2, "mean_std")
    b = blend_targets([t1, t2], (3.0, 1.0))
    torch.testing.assert_close(b.mean_std[0], 0.75 * t1.mean_std[0] + 0.25 * t2.mean_std[0])
    torch.testing.assert_close(b.mean_std[1], 0.75 * t1.mean_std[1] + 0.25 * t2.mean_std[1])


def test_blend_mmd_targets_is_a_mixture():
    f1 = _randn((1, 3, 4, 4), seed=23)
    f2 = _randn((1, 3, 4, 4), seed=24, shift=10.0)  # distinguishable by channel 0's sign/size
    t1, t2 = style_target(f1, "mmd_poly2"), style_target(f2, "mmd_poly2")
    only1 = blend_targets([t1, t2], [1, 0])
    assert only1.features.shape == (1, 3, 16, 1)
    torch.testing.assert_close(only1.features.flatten(2), f1.flatten(2))
    mix = blend_targets([t1, t2], [3, 1])
    pos = mix.features.flatten(2)[0].T  # (P, C)
    assert pos.shape == (16, 3)
    from_2 = (pos.mean(1) > 5).sum().item()
    assert from_2 == 4  # a quarter of the positions come from the second style


@pytest.mark.parametrize("weights", [[1, -1], [0, 0], [1], [1, 1, 1], []])
def test_blend_invalid_weights(weights):
    f = _relu_feats((1, 2, 3, 3))
    t = style_target(f, "gram")
    with pytest.raises(ValueError, match="weights"):
        blend_targets([t, t], weights)


# --------------------------------------------------------------------------- LossWeights


def test_loss_weights_defaults_and_layers():
    w = LossWeights()
    assert w.style_loss == "gram" and w.content_weight == 1.0 and w.tv_weight == 0.0
    assert w.layers == ["relu4_2", "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    w2 = LossWeights(content_layers={"relu2_1": 1.0}, style_layers={"relu1_1": 1.0, "relu2_1": 0.5})
    assert w2.layers == ["relu2_1", "relu1_1"]  # no duplicates, order kept
    for kind in STYLE_LOSSES:
        assert LossWeights(style_loss=kind).style_loss == kind


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"style_loss": "gram_matrix"}, "unknown style loss"),
        ({"content_weight": -1.0}, "content_weight"),
        ({"style_weight": -0.1}, "style_weight"),
        ({"tv_weight": -1e-3}, "tv_weight"),
        ({"style_weight": float("nan")}, "style_weight"),
        ({"content_layers": {}, "style_layers": {}}, "at least one"),
    ],
)
def test_loss_weights_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LossWeights(**kwargs)


# --------------------------------------------------------------------------- perceptual_terms


class _TinyNet(torch.nn.Module):
    """A fixed random two-layer conv net standing in for VGG (named like VGG layers)."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w1 = torch.randn(6, 3, 3, 3, generator=g) * 0.5
        self.w2 = torch.randn(8, 6, 3, 3, generator=g) * 0.3

    def forward(self, img):
        a = F.relu(F.conv2d(img, self.w1, padding=1))
        b = F.relu(F.conv2d(F.avg_pool2d(a, 2), self.w2, padding=1))
        return {"relu1_1": a, "relu2_1": b}


def _img(seed, h=12, w=10):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _setup(kind, **weight_kwargs):
    net = _TinyNet()
    weights = LossWeights(
        content_layers={"relu2_1": 1.0}, style_layers={"relu1_1": 2.0, "relu2_1": 0.5}, style_loss=kind, **weight_kwargs
    )
    content, style = _img(1), _img(2, 14, 14)
    c_targets = {"relu2_1": net(content)["relu2_1"].detach()}
    s_targets = {n: style_target(f, kind) for n, f in net(style).items()}
    return net, weights, c_targets, s_targets


def test_perceptual_terms_values_and_weights():
    net, w, ct, st = _setup("gram", content_weight=1.5, style_weight=3.0, tv_weight=0.2)
    img = _img(3)
    feats = net(img)
    terms = perceptual_terms(feats, img, w, content_targets=ct, style_targets=st)
    assert set(terms) == {"content", "style", "tv", "total"}
    content = 1.5 * content_loss(feats["relu2_1"], ct["relu2_1"])
    style = 3.0 * (
        2.0 * gram_loss(feats["relu1_1"], st["relu1_1"].gram) + 0.5 * gram_loss(feats["relu2_1"], st["relu2_1"].gram)
    )
    tv = 0.2 * tv_loss(img)
    torch.testing.assert_close(terms["content"], content)
    torch.testing.assert_close(terms["style"], style)
    torch.testing.assert_close(terms["tv"], tv)
    assert terms["content"] > 0 and terms["style"] > 0 and terms["tv"] > 0
    torch.testing.assert_close(terms["total"], terms["content"] + terms["style"] + terms["tv"])

    # doubling style_weight doubles the style term only
    w2 = LossWeights(
        content_layers=w.content_layers,
        style_layers=w.style_layers,
        content_weight=1.5,
        style_weight=6.0,
        tv_weight=0.2,
    )
    terms2 = perceptual_terms(feats, img, w2, content_targets=ct, style_targets=st)
    torch.testing.assert_close(terms2["style"], 2 * terms["style"])
    torch.testing.assert_close(terms2["content"], terms["content"])
    torch.testing.assert_close(terms2["tv"], terms["tv"])
    torch.testing.assert_close(terms2["total"], terms["total"] + terms["style"])


def test_perceptual_terms_missing_parts_are_zero():
    net, w, ct, st = _setup("gram")  # tv_weight 0
    img = _img(4)
    terms = perceptual_terms(net(img), img, w, content_targets=ct, style_targets={})
    assert terms["style"].item() == 0.0 and terms["tv"].item() == 0.0 and terms["content"].item() > 0
    torch.testing.assert_close(terms["total"], terms["content"])
    terms = perceptual_terms(net(img), img, w, content_targets={}, style_targets=st)
    assert terms["content"].item() == 0.0 and terms["style"].item() > 0


@pytest.mark.parametrize("kind", STYLE_LOSSES)
def test_gradients_flow_to_image_for_every_style_loss(kind):
    net, w, ct, st = _setup(kind, content_weight=0.0, tv_weight=0.0)
    img = _img(5).requires_grad_(True)
    terms = perceptual_terms(net(img), img, w, content_targets=ct, style_targets=st)
    assert terms["style"].item() > 0
    terms["total"].backward()
    g = img.grad
    assert g is not None and g.shape == img.shape and torch.isfinite(g).all() and g.abs().sum() > 0
    # it is a descent direction: a small step against the gradient lowers the style loss
    with torch.no_grad():
        step = 1e-2 / g.abs().max()
        img2 = img - step * g
        after = perceptual_terms(net(img2), img2, w, content_targets=ct, style_targets=st)["style"]
    assert after.item() < terms["style"].item()


def test_style_loss_dispatch_and_unknown():
    f = _relu_feats((1, 4, 4, 4), seed=25)
    y = _relu_feats((1, 4, 5, 5), seed=26)
    assert style_loss(f, style_target(y, "mmd_poly2"), "mmd_poly2").item() == pytest.approx(
        gram_loss(f, gram_matrix(y)).item() * 16, rel=1e-4
    )
    assert style_loss(f, style_target(y, "mmd_linear"), "mmd_linear").item() == pytest.approx(
        mmd_loss(f, y, "linear").item(), rel=1e-6
    )
    with pytest.raises(ValueError, match="unknown style loss"):
        style_loss(f, StyleTarget(), "wasserstein")
