"""The size rules of :mod:`instyle.sizes` that have no other home in the tests: the brush size."""

from __future__ import annotations

import pytest

from instyle.sizes import DEFAULT_STROKE, MIN_SIDE, STROKE_RANGE, STROKE_REFERENCE, check_stroke, stroke_side


def test_default_stroke_leaves_outputs_up_to_the_reference_alone():
    assert DEFAULT_STROKE == 1.0
    for side in (16, 300, 512, STROKE_REFERENCE):
        assert stroke_side(side) == side


def test_outputs_above_the_reference_compute_at_the_reference():
    # a 4000-px output gets the brushwork of a 1024-px one, scaled up with the picture
    assert stroke_side(4000) == STROKE_REFERENCE
    assert stroke_side(4000, 2.0) == STROKE_REFERENCE // 2
    assert stroke_side(4000, 0.5) == 2 * STROKE_REFERENCE


def test_a_larger_brush_computes_smaller_and_a_finer_one_larger_within_bounds():
    assert stroke_side(512, 2.0) == 256
    assert stroke_side(512, 0.5) == 1024
    assert stroke_side(512, 0.125) == 4 * 512  # at most 4x the output
    assert stroke_side(20, 8.0) == MIN_SIDE  # at least the networks' smallest side
    assert stroke_side(1000, 3.0) == 333


@pytest.mark.parametrize("bad", [0, -1.0, STROKE_RANGE[0] / 2, STROKE_RANGE[1] * 2, float("nan"), True, "2"])
def test_bad_strokes_are_value_errors_naming_the_range(bad):
    with pytest.raises(ValueError, match="stroke must be a number from 0.125 to 8"):
        check_stroke(bad)
    with pytest.raises(ValueError):
        stroke_side(512, bad)
