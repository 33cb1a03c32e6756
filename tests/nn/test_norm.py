"""Tests for instyle.nn.norm: InstanceNorm2d, ConditionalInstanceNorm2d, AdaIN, get_norm_layer."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from instyle.nn import (
    NORM_LAYER_NAMES,
    AdaIN,
    ConditionalInstanceNorm2d,
    InstanceNorm2d,
    VirtualBatchNorm2d,
    calc_mean_std,
    create_norm_layer,
    get_norm_layer,
    instance_norm,
    record_reference,
)
from instyle.nn.functional import DEFAULT_EPS

HYP = settings(max_examples=50, deadline=None, derandomize=True)


def _randn(shape, seed=0, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * scale + shift


def _biased_stats(x):
    x = x.double()
    mean = x.mean(dim=(2, 3), keepdim=True)
    return mean, ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True).sqrt()


def _randomize(module: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return module


# --------------------------------------------------------------------------- InstanceNorm2d


@pytest.mark.parametrize("shape", [(1, 3, 5, 5), (2, 8, 16, 12), (4, 16, 7, 9), (3, 1, 2, 3)])
def test_instance_norm_module_matches_torch(shape):
    c = shape[1]
    ours = _randomize(InstanceNorm2d(c), seed=1)
    ref = nn.InstanceNorm2d(c, affine=True, eps=DEFAULT_EPS)
    with torch.no_grad():
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
    x = _randn(shape, seed=2, scale=3.0, shift=1.0)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        ours(x), torch.nn.functional.instance_norm(x, weight=ours.weight, bias=ours.bias), atol=1e-5, rtol=1e-5
    )


def test_instance_norm_module_defaults_and_no_affine():
    m = InstanceNorm2d(4)
    assert torch.equal(m.weight, torch.ones(4)) and torch.equal(m.bias, torch.zeros(4))
    na = InstanceNorm2d(4, affine=False)
    assert na.weight is None and na.bias is None and len(list(na.parameters())) == 0
    x = _randn((2, 4, 6, 6), seed=3, scale=2.0, shift=4.0)
    torch.testing.assert_close(na(x), torch.nn.functional.instance_norm(x), atol=1e-5, rtol=1e-5)
    assert "4" in repr(m) and "affine=True" in repr(m)


def test_instance_norm_module_output_stats_are_beta_gamma():
    m = _randomize(InstanceNorm2d(6), seed=4)
    x = _randn((3, 6, 10, 10), seed=5, scale=5.0, shift=-3.0)
    mean, std = _biased_stats(m(x))
    torch.testing.assert_close(mean, m.bias.detach().double().view(1, 6, 1, 1).expand_as(mean), atol=1e-4, rtol=0)
    torch.testing.assert_close(
        std, m.weight.detach().double().abs().view(1, 6, 1, 1).expand_as(std), atol=1e-6, rtol=1e-4
    )


def test_instance_norm_module_batch_independent():
    m = _randomize(InstanceNorm2d(3), seed=6)
    x = _randn((4, 3, 8, 8), seed=7)
    y = torch.cat([x[:1], _randn((3, 3, 8, 8), seed=8, scale=4.0, shift=2.0)])
    torch.testing.assert_close(m(x)[0], m(y)[0], atol=0, rtol=0)
    bn = _randomize(nn.BatchNorm2d(3), seed=6).train()
    assert not torch.allclose(bn(x)[0], bn(y)[0], atol=1e-3)


def test_instance_norm_module_rejects_wrong_channels():
    m = InstanceNorm2d(3)
    with pytest.raises(ValueError, match="expected"):
        m(torch.zeros(1, 4, 5, 5))
    with pytest.raises(ValueError, match="expected"):
        m(torch.zeros(3, 5, 5))


def test_instance_norm_loads_old_checkpoint_with_running_stats():
    c = 5
    gamma, beta = _randn((c,), seed=9), _randn((c,), seed=10)
    state = {
        "weight": gamma.clone(),
        "bias": beta.clone(),
        "running_mean": torch.full((c,), 3.0),
        "running_var": torch.full((c,), 9.0),
        "num_batches_tracked": torch.tensor(100),
    }
    m = InstanceNorm2d(c)
    result = m.load_state_dict(state)  # strict=True by default
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(m.weight.detach(), gamma) and torch.equal(m.bias.detach(), beta)
    assert set(m.state_dict()) == {"weight", "bias"}
    # the running stats are NOT used: output equals plain instance norm with (γ, β)
    x = _randn((2, c, 6, 6), seed=11)
    torch.testing.assert_close(m(x), instance_norm(x, gamma, beta))
    # caller's dict not required to be left intact, but a nested model loads too
    net = nn.Sequential(nn.Conv2d(3, c, 3), InstanceNorm2d(c))
    sd = {f"0.{k}": v for k, v in nn.Conv2d(3, c, 3).state_dict().items()}
    sd.update({f"1.{k}": v.clone() for k, v in state.items()})
    net.load_state_dict(sd)
    assert torch.equal(net[1].weight.detach(), gamma)


def test_instance_norm_loads_torch_instance_norm_state():
    # torch.nn.InstanceNorm2d(affine=True, track_running_stats=True) checkpoint, as in fast_neural_style
    ref = _randomize(nn.InstanceNorm2d(4, affine=True, track_running_stats=True), seed=12)
    m = InstanceNorm2d(4)
    m.load_state_dict(ref.state_dict())
    assert torch.equal(m.weight, ref.weight) and torch.equal(m.bias, ref.bias)


def test_instance_norm_still_reports_genuinely_unexpected_keys():
    m = InstanceNorm2d(2)
    with pytest.raises(RuntimeError, match="something_else"):
        m.load_state_dict({"weight": torch.ones(2), "bias": torch.zeros(2), "something_else": torch.ones(1)})


# --------------------------------------------------------------------------- ConditionalInstanceNorm2d


@pytest.fixture
def cin():
    return _randomize(ConditionalInstanceNorm2d(4, num_styles=3), seed=13)


def _in_with(cin_mod: ConditionalInstanceNorm2d, s: int) -> InstanceNorm2d:
    m = InstanceNorm2d(cin_mod.num_features, eps=cin_mod.eps)
    with torch.no_grad():
        m.weight.copy_(cin_mod.weight[s])
        m.bias.copy_(cin_mod.bias[s])
    return m


def test_cin_one_hot_equals_instance_norm(cin):
    x = _randn((2, 4, 7, 7), seed=14, scale=2.0)
    for s in range(3):
        one_hot = torch.nn.functional.one_hot(torch.tensor(s), 3).float()
        expected = _in_with(cin, s)(x)
        torch.testing.assert_close(cin(x, one_hot), expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(cin(x, s), expected, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(cin(x, torch.full((2,), s, dtype=torch.long)), expected, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(cin(x, one_hot.expand(2, 3)), expected, atol=1e-5, rtol=1e-5)
    # the styles are distinct, so selecting matters
    assert not torch.allclose(cin(x, 0), cin(x, 1), atol=1e-3)


def test_cin_default_style_is_zero(cin):
    x = _randn((1, 4, 5, 5), seed=15)
    torch.testing.assert_close(cin(x), cin(x, 0))


def test_cin_per_sample_indices_match_one_hot(cin):
    x = _randn((4, 4, 6, 5), seed=16)
    idx = torch.tensor([2, 0, 1, 2])
    one_hot = torch.nn.functional.one_hot(idx, 3).float()
    out = cin(x, idx)
    torch.testing.assert_close(out, cin(x, one_hot), atol=1e-5, rtol=1e-5)
    for i, s in enumerate(idx.tolist()):
        torch.testing.assert_close(out[i : i + 1], cin(x[i : i + 1], s), atol=1e-6, rtol=1e-6)
    # int32 and uint8 index tensors are indices too (not weights)
    torch.testing.assert_close(cin(x, idx.int()), out)
    torch.testing.assert_close(cin(x, idx.to(torch.uint8)), out)


def test_cin_uint8_indices_are_not_weights_or_masks():
    m = _randomize(ConditionalInstanceNorm2d(3, num_styles=2), seed=17)
    x = _randn((2, 3, 4, 4), seed=18)
    idx = torch.tensor([1, 0], dtype=torch.uint8)
    torch.testing.assert_close(m(x, idx), m(x, torch.tensor([1, 0])))


@pytest.mark.parametrize("a,b", [(0.3, 0.7), (2.0, -1.5), (-0.25, 0.0), (1e3, 1e-3)])
def test_cin_is_linear_in_weights(cin, a, b):
    x = _randn((3, 4, 6, 6), seed=19)
    w1 = _randn((3, 3), seed=20)
    w2 = _randn((3,), seed=21)
    lhs = cin(x, a * w1 + b * w2)
    rhs = a * cin(x, w1) + b * cin(x, w2)
    scale = max(1.0, abs(a), abs(b))
    torch.testing.assert_close(lhs, rhs, atol=1e-4 * scale, rtol=1e-4)


def test_cin_convex_blend_of_two_styles(cin):
    x = _randn((1, 4, 6, 6), seed=22)
    out = cin(x, torch.tensor([0.25, 0.0, 0.75]))
    torch.testing.assert_close(out, 0.25 * cin(x, 0) + 0.75 * cin(x, 2), atol=1e-5, rtol=1e-5)


def test_cin_errors(cin):
    x = _randn((2, 4, 5, 5))
    with pytest.raises(IndexError):
        cin(x, 3)
    with pytest.raises(IndexError):
        cin(x, -1)
    with pytest.raises(IndexError):
        cin(x, torch.tensor([0, 3]))
    with pytest.raises(IndexError):
        cin(x, torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match="indices"):
        cin(x, torch.tensor([0, 1, 2]))  # batch is 2
    with pytest.raises(ValueError, match="indices"):
        cin(x, torch.tensor(1))
    with pytest.raises(ValueError, match="weights"):
        cin(x, torch.ones(4))  # 3 styles
    with pytest.raises(ValueError, match="weights"):
        cin(x, torch.ones(3, 3))  # batch is 2
    with pytest.raises(ValueError, match="weights"):
        cin(x, torch.ones(2, 3, 1))
    with pytest.raises(TypeError):
        cin(x, "style0")
    with pytest.raises(ValueError, match="expected"):
        cin(torch.zeros(2, 3, 5, 5), 0)
    with pytest.raises(ValueError, match="num_styles"):
        ConditionalInstanceNorm2d(4, num_styles=0)


def test_cin_add_styles_keeps_old_outputs(cin):
    x = _randn((2, 4, 6, 6), seed=23)
    before = [cin(x, s).detach() for s in range(3)]
    new = cin.add_styles(2)
    assert list(new) == [3, 4]
    assert cin.num_styles == 5 and cin.weight.shape == (5, 4) and cin.bias.shape == (5, 4)
    for s in range(3):
        torch.testing.assert_close(cin(x, s), before[s], atol=0, rtol=0)
    # new styles start as identity: plain instance norm
    torch.testing.assert_close(cin(x, 4), instance_norm(x), atol=1e-6, rtol=1e-6)
    # the weight vector now has 5 entries
    torch.testing.assert_close(cin(x, torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0])), before[1], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        cin(x, torch.tensor([0.0, 1.0, 0.0]))
    assert "num_styles=5" in repr(cin)


def test_cin_add_styles_init_from_copies(cin):
    x = _randn((2, 4, 6, 6), seed=24)
    (s,) = cin.add_styles(1, init_from=1)
    assert s == 3
    torch.testing.assert_close(cin(x, 3), cin(x, 1), atol=0, rtol=0)
    assert torch.equal(cin.weight[3], cin.weight[1]) and torch.equal(cin.bias[3], cin.bias[1])
    # a copy, not a view: training the new style leaves the source alone
    src = cin.weight[1].detach().clone()
    with torch.no_grad():
        cin.weight[3].add_(1.0)
    assert torch.equal(cin.weight[1].detach(), src)
    assert cin.weight.requires_grad and cin.bias.requires_grad


def test_cin_new_styles_are_trainable_parameters(cin):
    cin.add_styles(1)
    names = {n for n, _ in cin.named_parameters()}
    assert names == {"weight", "bias"}
    x = _randn((1, 4, 5, 5), seed=25)
    cin(x, 3).pow(2).sum().backward()
    assert cin.weight.grad is not None and cin.weight.grad[3].abs().sum() > 0
    assert cin.weight.grad[:3].abs().sum() == 0


# --------------------------------------------------------------------------- AdaIN module


def test_adain_module_transfers_stats():
    m = AdaIN()
    assert len(list(m.parameters())) == 0
    content = _randn((3, 4, 8, 8), seed=26, scale=2.0)
    style = _randn((1, 4, 10, 10), seed=27, scale=20.0, shift=100.0)
    out = m(content, style)
    s_mean, s_std = _biased_stats(style)
    mean, std = _biased_stats(out)
    torch.testing.assert_close(mean, s_mean.expand_as(mean), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(std, s_std.expand_as(std), atol=1e-4, rtol=1e-4)
    # (mean, std) tuple form
    torch.testing.assert_close(m(content, calc_mean_std(style)), out)


def test_adain_module_alpha():
    m = AdaIN()
    content = _randn((2, 3, 6, 6), seed=28)
    style = _randn((2, 3, 6, 6), seed=29, scale=3.0, shift=1.0)
    assert torch.equal(m(content, style, alpha=0.0), content)
    full = m(content, style)
    torch.testing.assert_close(m(content, style, alpha=1.0), full)
    torch.testing.assert_close(m(content, style, alpha=0.4), 0.4 * full + 0.6 * content)
    for bad in (-0.1, 1.01, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="alpha"):
            m(content, style, alpha=bad)


# --------------------------------------------------------------------------- train / eval


def _conv_net(norm: str) -> nn.Module:
    torch.manual_seed(30)
    norm_layer = get_norm_layer(norm)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), norm_layer(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), norm_layer(8)
    )


def test_train_and_eval_identical_for_instance_norm():
    x = _randn((4, 4, 6, 6), seed=31, scale=2.0, shift=1.0)
    m = _randomize(InstanceNorm2d(4), seed=32)
    out_train = m.train()(x)
    m(x * 3 + 5)  # would move running stats, if there were any
    torch.testing.assert_close(m.eval()(x), out_train, atol=0, rtol=0)

    c = _randomize(ConditionalInstanceNorm2d(4, 2), seed=33)
    w = torch.tensor([0.3, 0.7])
    out_train = c.train()(x, w)
    torch.testing.assert_close(c.eval()(x, w), out_train, atol=0, rtol=0)

    net = _conv_net("instance")
    xi = _randn((4, 3, 8, 8), seed=34)
    out_train = net.train()(xi)
    net(xi * 2 - 1)
    torch.testing.assert_close(net.eval()(xi), out_train, atol=0, rtol=0)


def test_train_and_eval_differ_for_batch_norm():
    net = _conv_net("batch")
    xi = _randn((4, 3, 8, 8), seed=34)
    out_train = net.train()(xi)
    assert not torch.allclose(net.eval()(xi), out_train, atol=1e-3)


# --------------------------------------------------------------------------- factory


def test_norm_layer_names():
    assert set(NORM_LAYER_NAMES) == {
        "instance",
        "batch",
        "layer",
        "group",
        "none",
        "virtual_batch",
        "conditional_instance",
    }


@pytest.mark.parametrize("name", NORM_LAYER_NAMES)
def test_every_norm_layer_preserves_shape(name):
    kwargs = {"num_styles": 2} if name == "conditional_instance" else {}
    ctor = get_norm_layer(name, **kwargs)
    layer = ctor(16)  # num_features positional, first
    layer_kw = get_norm_layer(name, **kwargs)(num_features=16)
    assert type(layer) is type(layer_kw)
    x = _randn((2, 16, 5, 7), seed=35)
    out = layer(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert isinstance(create_norm_layer(name, 16, **kwargs), type(layer))


@pytest.mark.parametrize(
    "alias,cls",
    [
        ("in", InstanceNorm2d),
        ("bn", nn.BatchNorm2d),
        ("gn", nn.GroupNorm),
        ("ln", nn.GroupNorm),
        ("cin", ConditionalInstanceNorm2d),
        ("conditional", ConditionalInstanceNorm2d),
        ("identity", nn.Identity),
        ("vbn", VirtualBatchNorm2d),
        ("Instance", InstanceNorm2d),
        ("conditional-instance", ConditionalInstanceNorm2d),
        ("BATCH", nn.BatchNorm2d),
    ],
)
def test_norm_layer_aliases(alias, cls):
    kwargs = {"num_styles": 3} if cls is ConditionalInstanceNorm2d else {}
    layer = get_norm_layer(alias, **kwargs)(8)
    assert type(layer) is cls


def test_norm_factory_builds_expected_layers():
    assert get_norm_layer("instance") is InstanceNorm2d
    assert get_norm_layer("batch") is nn.BatchNorm2d
    ln = create_norm_layer("ln", 12)
    assert ln.num_groups == 1 and ln.num_channels == 12
    x = _randn((2, 12, 4, 4), seed=36, scale=3.0, shift=2.0)
    flat = x.flatten(1)
    ref = (flat - flat.mean(1, keepdim=True)) / (flat.var(1, unbiased=False, keepdim=True) + DEFAULT_EPS).sqrt()
    torch.testing.assert_close(ln(x), ref.view_as(x), atol=1e-5, rtol=1e-5)
    cin = create_norm_layer("cin", 6, num_styles=4)
    assert cin.num_styles == 4 and cin.num_features == 6
    assert isinstance(create_norm_layer("none", 5), nn.Identity)


def test_norm_factory_binds_kwargs():
    gn = get_norm_layer("group", num_groups=8)(64)
    assert isinstance(gn, nn.GroupNorm) and gn.num_groups == 8 and gn.num_channels == 64
    assert get_norm_layer("gn")(64).num_groups == 32
    inn = get_norm_layer("instance", eps=1e-3, affine=False)(4)
    assert inn.eps == 1e-3 and inn.weight is None
    bn = get_norm_layer("bn", momentum=0.5)(4)
    assert bn.momentum == 0.5


@pytest.mark.parametrize(
    "channels,groups,expected",
    [
        (48, 32, 24),  # documented example: largest divisor of 48 not above 32
        (3, 32, 1),  # at least two channels a group: never instance norm
        (20, 32, 10),
        (32, 32, 16),
        (7, 32, 1),
        (100, 32, 25),
        (64, 32, 32),
        (12, 8, 6),
        (96, 32, 32),
    ],
)
def test_group_norm_any_channel_count(channels, groups, expected):
    gn = get_norm_layer("group", num_groups=groups)(channels)
    assert gn.num_groups == expected
    assert channels % gn.num_groups == 0
    x = _randn((2, channels, 3, 3), seed=37)
    assert gn(x).shape == x.shape


def test_norm_factory_unknown_name():
    with pytest.raises(ValueError) as exc:
        get_norm_layer("weird_norm")
    msg = str(exc.value)
    assert "weird_norm" in msg
    for name in NORM_LAYER_NAMES:
        assert name in msg


# --------------------------------------------------------------------------- hypothesis


@HYP
@given(
    n=st.integers(1, 4),
    c=st.integers(1, 8),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    s=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([0.0, 1e-3, 1.0, 1e3]),
)
def test_property_cin_finite_and_equals_in(n, c, h, w, s, seed, scale):
    m = _randomize(ConditionalInstanceNorm2d(c, s), seed=seed)
    x = _randn((n, c, h, w), seed=seed + 1, scale=scale, shift=1.0)
    idx = torch.randint(0, s, (n,), generator=torch.Generator().manual_seed(seed))
    out = m(x, idx)
    assert out.shape == x.shape and torch.isfinite(out).all()
    torch.testing.assert_close(out, instance_norm(x, m.weight[idx], m.bias[idx]))
    if h == w == 1:
        assert torch.equal(out, m.bias[idx].detach().view(n, c, 1, 1))


@HYP
@given(n=st.integers(1, 4), c=st.integers(1, 8), seed=st.integers(0, 2**31 - 1))
def test_property_instance_norm_module_1x1_is_beta(n, c, seed):
    m = _randomize(InstanceNorm2d(c), seed=seed)
    x = _randn((n, c, 1, 1), seed=seed + 1, scale=100.0)
    out = m(x)
    assert torch.equal(out, m.bias.detach().view(1, c, 1, 1).expand(n, c, 1, 1))


def test_factory_names_are_the_choices():
    from instyle.choices import NORM_LAYERS
    from instyle.nn import norm

    assert tuple(norm._NORM_LAYERS) == NORM_LAYERS == norm.NORM_LAYER_NAMES


# --------------------------------------------------------------------------- virtual batch norm


def _vbn_reference(layer, ref):
    with record_reference(nn.Sequential(layer)):
        return layer(ref)


def test_virtual_batch_norm_without_a_reference_is_instance_norm():
    vbn = VirtualBatchNorm2d(4)
    x = _randn((3, 4, 6, 5), seed=60, scale=2.0, shift=1.0)
    torch.testing.assert_close(vbn(x), InstanceNorm2d(4)(x), atol=1e-5, rtol=1e-5)


def test_virtual_batch_norm_mixes_the_reference_with_each_sample():
    torch.manual_seed(0)
    vbn = VirtualBatchNorm2d(3)
    with torch.no_grad():
        vbn.weight.uniform_(0.5, 1.5)
        vbn.bias.normal_()
    ref = _randn((4, 3, 8, 8), seed=61, scale=3.0, shift=2.0)
    out_ref = _vbn_reference(vbn, ref)
    # the reference batch itself: its own batch statistics (batch norm)
    bn = nn.functional.batch_norm(ref, None, None, vbn.weight, vbn.bias, training=True, eps=vbn.eps)
    torch.testing.assert_close(out_ref, bn, atol=1e-4, rtol=1e-4)
    assert int(vbn.ref_count) == 4
    x = _randn((2, 3, 5, 7), seed=62, scale=0.5, shift=-1.0)
    got = vbn(x)
    for i in range(2):  # sample i: the statistics of the reference and itself, 1/(N+1) its own
        m = (4 * ref.mean((0, 2, 3)) + x[i].mean((1, 2))) / 5
        q = (4 * (ref * ref).mean((0, 2, 3)) + (x[i] * x[i]).mean((1, 2))) / 5
        want = (x[i] - m[:, None, None]) / (q - m * m + vbn.eps).sqrt()[:, None, None]
        want = want * vbn.weight[:, None, None] + vbn.bias[:, None, None]
        torch.testing.assert_close(got[i], want, atol=1e-4, rtol=1e-4)
    # a sample's output does not depend on its batch mates (unlike batch norm)
    torch.testing.assert_close(vbn(x[:1]), got[:1], atol=1e-5, rtol=1e-5)


def test_virtual_batch_norm_keeps_its_reference_in_eval_and_in_the_state_dict():
    vbn = VirtualBatchNorm2d(3)
    ref = _randn((4, 3, 8, 8), seed=63, scale=2.0)
    _vbn_reference(vbn, ref)
    x = _randn((1, 3, 6, 6), seed=64)
    train_out = vbn(x)
    other = VirtualBatchNorm2d(3)
    other.load_state_dict(vbn.state_dict())
    torch.testing.assert_close(other.eval()(x), train_out, atol=1e-5, rtol=1e-5)


def test_virtual_batch_norm_reference_carries_gradients_in_training():
    conv = nn.Conv2d(3, 3, 1)
    vbn = VirtualBatchNorm2d(3)
    model = nn.Sequential(conv, vbn)
    with record_reference(model):
        model(_randn((4, 3, 6, 6), seed=65, shift=1.0))
    model(_randn((2, 3, 6, 6), seed=66)).square().mean().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
