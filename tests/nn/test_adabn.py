"""Tests for instyle.nn.adabn.adapt_batchnorm (AdaBN, Li et al. 2016)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from instyle.nn import adapt_batchnorm


def _randn(shape, seed=0, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * scale + shift


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Conv2d(6, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
    )


def _trained_on_domain_a() -> nn.Sequential:
    """A net whose BN running stats come from domain A (mean 0, std 1 inputs)."""
    net = _net().train()
    with torch.no_grad():
        for i in range(5):
            net(_randn((8, 3, 8, 8), seed=100 + i))
    # make the affine weights non-trivial so "weights unchanged" is meaningful
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for bn in (net[1], net[4]):
            bn.weight.copy_(torch.rand(bn.weight.shape, generator=g) + 0.5)
            bn.bias.copy_(torch.randn(bn.bias.shape, generator=g))
    return net.eval()


def _domain_b(n=12, seed=200):
    return _randn((n, 3, 8, 8), seed=seed, scale=2.0, shift=3.0)


def _channel_stats(y: torch.Tensor):
    """Exact per-channel mean and unbiased variance of (N, C, H, W) features over N, H, W."""
    y = y.double().transpose(0, 1).flatten(1)
    return y.mean(1), y.var(1, unbiased=True)


def test_adapt_single_batch_gives_exact_domain_statistics():
    net = _trained_on_domain_a()
    imgs = _domain_b(12)
    state_before = {k: v.clone() for k, v in net.state_dict().items()}
    old_mean = net[1].running_mean.clone()

    out = adapt_batchnorm(net, imgs, batch_size=16)
    assert out is net

    with torch.no_grad():
        conv1_out = net[0](imgs)
    mean, var = _channel_stats(conv1_out)
    torch.testing.assert_close(net[1].running_mean.double(), mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(net[1].running_var.double(), var, atol=1e-5, rtol=1e-5)
    # the adapted stats genuinely differ from domain A's
    assert not torch.allclose(net[1].running_mean, old_mean, atol=0.1)

    # second BN layer: its input is computed with the first BN adapted (eval mode, as the network runs)
    with torch.no_grad():
        h = net[3](torch.relu(net[1](conv1_out)))
    mean2, var2 = _channel_stats(h)
    torch.testing.assert_close(net[4].running_mean.double(), mean2, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(net[4].running_var.double(), var2, atol=1e-5, rtol=1e-5)

    # learned weights (conv + BN affine) untouched
    for k, v in net.state_dict().items():
        if "running" not in k and "num_batches" not in k:
            assert torch.equal(v, state_before[k]), k


def test_adapted_eval_output_is_normalized_on_domain_b():
    net = _trained_on_domain_a()
    imgs = _domain_b(16)
    with torch.no_grad():
        before = net[:2](imgs)
    adapt_batchnorm(net, imgs)
    with torch.no_grad():
        after = net[:2](imgs)  # eval mode: uses running stats
    bn = net[1]
    normalized = (after - bn.bias.view(1, -1, 1, 1)) / bn.weight.view(1, -1, 1, 1)
    mean = normalized.mean(dim=(0, 2, 3))
    std = normalized.std(dim=(0, 2, 3), unbiased=True)
    torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-4, rtol=0)
    torch.testing.assert_close(std, torch.ones_like(std), atol=1e-3, rtol=0)
    # before adaptation the domain shift showed up as a large mean offset
    normalized_before = (before - bn.bias.view(1, -1, 1, 1)) / bn.weight.view(1, -1, 1, 1)
    assert normalized_before.mean(dim=(0, 2, 3)).abs().max() > 0.5


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_adapt_restores_mode(mode):
    net = _trained_on_domain_a()
    net.train(mode == "train")
    net[3].train(False)  # a mixed state is restored module by module
    expected = {name: m.training for name, m in net.named_modules()}
    momenta = [net[1].momentum, net[4].momentum]
    adapt_batchnorm(net, _domain_b(4))
    assert {name: m.training for name, m in net.named_modules()} == expected
    assert [net[1].momentum, net[4].momentum] == momenta


def test_adapt_iterable_gives_the_whole_domains_statistics():
    net = _trained_on_domain_a()
    b1 = _randn((6, 3, 8, 8), seed=300, scale=1.0, shift=3.0)
    b2 = _randn((6, 3, 8, 8), seed=301, scale=4.0, shift=-2.0)  # very different statistics
    adapt_batchnorm(net, iter([b1, b2]))  # a one-shot iterator: kept for the second layer's pass
    with torch.no_grad():
        m, v = _channel_stats(net[0](torch.cat([b1, b2])))
        _, v1 = _channel_stats(net[0](b1))
        _, v2 = _channel_stats(net[0](b2))
    # the variance over all 12 images includes the spread between the batches, which the mean of the
    # per-batch variances (what a cumulative running average gives) leaves out
    torch.testing.assert_close(net[1].running_mean.double(), m, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(net[1].running_var.double(), v, atol=1e-5, rtol=1e-5)
    assert (v - (v1 + v2) / 2).abs().max() > 0.1
    assert int(net[1].num_batches_tracked) == 2


def test_cumulative_mode_is_the_mean_of_per_batch_statistics():
    net = _trained_on_domain_a()
    b1 = _randn((6, 3, 8, 8), seed=300, scale=1.0, shift=3.0)
    b2 = _randn((6, 3, 8, 8), seed=301, scale=4.0, shift=-2.0)
    adapt_batchnorm(net, iter([b1, b2]), exact=False)
    with torch.no_grad():
        m1, v1 = _channel_stats(net[0](b1))
        m2, v2 = _channel_stats(net[0](b2))
    torch.testing.assert_close(net[1].running_mean.double(), (m1 + m2) / 2, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(net[1].running_var.double(), (v1 + v2) / 2, atol=1e-5, rtol=1e-5)
    momentum_result = 0.9 * (0.9 * 0 + 0.1 * m1) + 0.1 * m2
    assert not torch.allclose(net[1].running_mean.double(), momentum_result, atol=1e-2)
    assert int(net[1].num_batches_tracked) == 2


def test_exact_statistics_do_not_depend_on_the_batch_size():
    imgs = torch.cat([_randn((4, 3, 8, 8), seed=400, shift=3.0), _randn((4, 3, 8, 8), seed=401, scale=3.0)])
    a = adapt_batchnorm(_trained_on_domain_a(), imgs, batch_size=4)
    b = adapt_batchnorm(_trained_on_domain_a(), [imgs[:4], imgs[4:]])
    c = adapt_batchnorm(_trained_on_domain_a(), imgs, batch_size=8)
    for bn_a, bn_b, bn_c in ((a[1], b[1], c[1]), (a[4], b[4], c[4])):
        torch.testing.assert_close(bn_a.running_mean, bn_b.running_mean)
        torch.testing.assert_close(bn_a.running_var, bn_b.running_var)
        torch.testing.assert_close(bn_a.running_mean, bn_c.running_mean, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(bn_a.running_var, bn_c.running_var, atol=1e-5, rtol=1e-5)
        assert int(bn_a.num_batches_tracked) == 2 and int(bn_c.num_batches_tracked) == 1
    # the cumulative mode groups the variance by batch: batch size changes it
    d = adapt_batchnorm(_trained_on_domain_a(), imgs, batch_size=4, exact=False)
    e = adapt_batchnorm(_trained_on_domain_a(), imgs, batch_size=8, exact=False)
    assert not torch.allclose(d[1].running_var, e[1].running_var, atol=1e-3)


def test_a_single_image_adapted_behaves_like_instance_norm():
    # AdaBN on one image: each channel normalized by that image's own statistics, which is what
    # instance norm does (up to the unbiased variance of N·H·W - 1 values)
    torch.manual_seed(3)
    bn = nn.BatchNorm2d(4).eval()
    x = _randn((1, 4, 16, 16), seed=500, scale=3.0, shift=2.0)
    adapt_batchnorm(bn, x)
    inorm = nn.functional.instance_norm(x, eps=bn.eps)
    torch.testing.assert_close(bn(x), inorm * (1 - 1 / 256) ** 0.5, atol=1e-4, rtol=1e-4)


def test_adapt_with_custom_forward():
    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = _trained_on_domain_a()

        def forward(self, x, scale):
            return self.net(x * scale)

    model = Wrapped()
    imgs = _domain_b(8)
    calls = []

    def fwd(m, batch):
        calls.append(batch.shape[0])
        return m(batch, 0.5)

    adapt_batchnorm(model, imgs, batch_size=3, forward=fwd)
    # one pass to find the layers' order, then one pass over the batches per BN layer
    assert calls == [3] + [3, 3, 2] * 2
    model2 = Wrapped()
    adapt_batchnorm(model2, list((imgs * 0.5).split(3)), forward=lambda m, b: m(b, 1.0))
    torch.testing.assert_close(model.net[1].running_mean, model2.net[1].running_mean, atol=1e-5, rtol=1e-5)


def test_adapt_does_not_touch_gradients_or_params():
    net = _trained_on_domain_a()
    adapt_batchnorm(net, _domain_b(4))
    assert all(p.grad is None for p in net.parameters())
    assert all(p.requires_grad for p in net.parameters())


def test_adapt_raises_without_batchnorm():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GroupNorm(2, 4), nn.InstanceNorm2d(4))
    with pytest.raises(ValueError, match="batch-norm"):
        adapt_batchnorm(net, _domain_b(2))


@pytest.mark.parametrize("exact", [True, False])
def test_batchnorm_without_running_statistics_is_left_alone(exact):
    # a BN with track_running_stats=False always uses its batch's statistics: nothing to adapt
    net = _trained_on_domain_a()
    free = nn.BatchNorm2d(4, track_running_stats=False)
    net.append(free)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    adapt_batchnorm(net, _domain_b(), exact=exact)
    assert free.running_mean is None and free.running_var is None
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items())  # the others adapted
    with pytest.raises(ValueError, match="running statistics"):
        adapt_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, track_running_stats=False)), _domain_b(2))


@pytest.mark.parametrize(
    "images",
    [[], iter([]), torch.empty(0, 3, 8, 8), [torch.empty(0, 3, 8, 8)]],
    ids=["empty-list", "empty-iter", "empty-tensor", "list-of-empty"],
)
def test_adapt_raises_without_images_and_keeps_old_stats(images):
    net = _trained_on_domain_a()
    net.train()
    saved = {k: v.clone() for k, v in net.state_dict().items()}
    momentum = net[1].momentum
    with pytest.raises(ValueError, match="no images"):
        adapt_batchnorm(net, images)
    for k, v in net.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert net.training and net[1].training
    assert net[1].momentum == momentum


def test_adapt_error_midway_restores_stats_and_mode():
    net = _trained_on_domain_a()
    saved = {k: v.clone() for k, v in net.state_dict().items()}

    def batches():
        yield _domain_b(4)
        yield torch.zeros(4, 5, 8, 8)  # wrong channel count -> conv raises

    with pytest.raises(RuntimeError):
        adapt_batchnorm(net, batches())
    for k, v in net.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert not net.training and not net[1].training
    assert net[1].momentum == 0.1


def test_adapt_skips_empty_batches():
    imgs = _domain_b(6)
    a = adapt_batchnorm(_trained_on_domain_a(), [imgs, torch.empty(0, 3, 8, 8)])
    b = adapt_batchnorm(_trained_on_domain_a(), [imgs])
    torch.testing.assert_close(a[1].running_mean, b[1].running_mean)
    torch.testing.assert_close(a[1].running_var, b[1].running_var)
