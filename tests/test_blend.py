"""Tests for instyle.blend: the weights rule, style vectors and fast-request checks (no torch)."""

import math

import pytest

from instyle.blend import blend_weights, check_fast_request, mix, style_vector
from instyle.errors import UsageError

NAMES = ("a", "b", "c")


def test_blend_weights():
    assert blend_weights(None, 4) == [0.25] * 4
    assert blend_weights([1, 3], 2) == [0.25, 0.75]
    assert blend_weights([0, 5], 2) == [0.0, 1.0]
    assert math.isclose(sum(blend_weights([0.1, 0.2, 0.3], 3)), 1.0)


@pytest.mark.parametrize("weights", [[-1, 2], [0, 0], [float("nan"), 1], [float("inf"), 1], [1]])
def test_blend_weights_refuses(weights):
    with pytest.raises(UsageError, match="weights"):
        blend_weights(weights, 2)


def test_style_vector():
    assert style_vector(NAMES, "b") == [0.0, 1.0, 0.0]
    assert style_vector(NAMES, 2) == [0.0, 0.0, 1.0]
    assert style_vector(NAMES, ["a", "c"], [1, 3]) == [0.25, 0.0, 0.75]
    assert style_vector(NAMES, ["a", "a"]) == [1.0, 0.0, 0.0]  # the same style twice adds up
    assert style_vector((), None) is None


@pytest.mark.parametrize(
    "names, style, message",
    [
        (NAMES, None, "choose with style"),
        (NAMES, "z", "no style 'z'"),
        (NAMES, 3, "out of range"),
        ((), "a", "single style"),
    ],
)
def test_style_vector_refuses(names, style, message):
    with pytest.raises(UsageError, match=message):
        style_vector(names, style)


def test_check_fast_request():
    check_fast_request("luminance", (100, 100))
    with pytest.raises(UsageError, match="color"):
        check_fast_request("match", (100, 100))
    with pytest.raises(UsageError, match="megapixels"):
        check_fast_request("none", (5000, 5000))


def test_mix_is_one_rule_for_numpy_and_torch():
    import numpy as np
    import torch

    from instyle.nn import mix_stats

    rng = np.random.default_rng(0)
    a, b = (rng.random((1, 4, 1, 1), dtype=np.float32) for _ in range(2))
    w = blend_weights([1, 3], 2)
    np.testing.assert_allclose(mix([a, b], w), 0.25 * a + 0.75 * b, rtol=1e-6)
    mean, std = mix_stats([(torch.from_numpy(a), torch.from_numpy(b)), (torch.from_numpy(b), torch.from_numpy(a))], w)
    np.testing.assert_allclose(mean.numpy(), mix([a, b], w), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), mix([b, a], w), rtol=1e-6)
    with pytest.raises(ValueError):
        mix([a], [0.5, 0.5])
