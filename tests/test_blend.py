"""Tests for instyle.blend: the weights rule, style vectors and fast-request checks (no torch)."""

import math

import pytest

from instyle.blend import blend_weights, check_fast_request, style_vector
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
        (NAMES, None, "choose with --style"),
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
