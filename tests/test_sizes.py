"""The size rules of :mod:`instyle.sizes` that have no other home in the tests: the brush size."""

from __future__ import annotations

import pytest

from instyle.sizes import DEFAULT_STROKE, MIN_SIDE, STROKE_RANGE, STROKE_REFERENCE, check_stroke, stroke_side


def test_the_default_stroke_computes_every_output_at_the_reference():
    # a 512-px output is computed at 1024 and shrunk, a 4000-px one at 1024 and enlarged: the same
    # brushwork relative to the picture at every size
    assert DEFAULT_STROKE == 1.0
    for side in (300, 512, STROKE_REFERENCE, 4000):
        assert stroke_side(side) == STROKE_REFERENCE
    assert stroke_side(100) == 400  # at most 4x the output


def test_a_larger_brush_computes_smaller_and_a_finer_one_larger_within_bounds():
    assert stroke_side(4000, 2.0) == STROKE_REFERENCE // 2
    assert stroke_side(4000, 0.5) == 2 * STROKE_REFERENCE
    assert stroke_side(512, 2.0) == 512
    assert stroke_side(512, 4.0) == 256
    assert stroke_side(512, 0.5) == 4 * 512  # at most 4x the output
    assert stroke_side(2, 8.0) == MIN_SIDE  # at least the networks' smallest side
    assert stroke_side(1000, 3.0) == 341


@pytest.mark.parametrize("bad", [0, -1.0, STROKE_RANGE[0] / 2, STROKE_RANGE[1] * 2, float("nan"), True, "2"])
def test_bad_strokes_are_value_errors_naming_the_range(bad):
    with pytest.raises(ValueError, match="stroke must be a number from 0.125 to 8"):
        check_stroke(bad)
    with pytest.raises(ValueError):
        stroke_side(512, bad)


def test_a_network_with_its_own_reference_side_computes_there():
    from instyle.sizes import STROKE_REFERENCE_KEY, stroke_reference

    # a network distilled with --teacher-scale 2 paints at 512 what its teacher paints at 1024
    assert stroke_side(512, 1.0, 512) == 512
    assert stroke_side(4000, 2.0, 512) == 256
    assert stroke_side(100, 1.0, 512) == 400  # still at most 4x the output
    assert stroke_reference({}) == STROKE_REFERENCE
    assert stroke_reference({STROKE_REFERENCE_KEY: "512", "other": "x"}) == 512
    for bad in ("", "big", "8", "-512", "512.5"):
        with pytest.raises(ValueError, match="stroke_reference in a model.s metadata must be a whole number"):
            stroke_reference({STROKE_REFERENCE_KEY: bad})


def test_the_brush_goes_to_the_cheapest_network_that_does_not_enlarge():
    from instyle.sizes import choose_brush

    pair = {"main": 1024, "half": 512}  # a network and its companion distilled with --teacher-scale 2
    assert choose_brush(512, 1.0, pair) == "half"  # computed at 512, not 1024 shrunk
    assert choose_brush(300, 1.0, pair) == "half"  # 512 shrunk to 300
    assert choose_brush(513, 1.0, pair) == "main"  # the half would be enlarged
    assert choose_brush(1024, 1.0, pair) == "main"
    assert choose_brush(4000, 1.0, pair) == "main"  # both enlarge: the larger computation
    assert choose_brush(1024, 2.0, pair) == "main"  # 512 enlarged 2x rather than 256 4x
    assert choose_brush(512, 2.0, pair) == "main"  # the larger brush: main at 512 covers it, the cheapest that does
    assert choose_brush(512, 0.5, pair) == "half"  # a finer brush: 1024 against 2048
    assert choose_brush(64, 1.0, pair) == "half"  # both at 4 x 64: the brush nearer the asked one
    assert choose_brush(4, 8.0, pair) == "half"  # both at the smallest side
    assert choose_brush(512, 1.0, {"a": 512, "b": 512}) == "a"  # ties: the first
    assert choose_brush(512, 1.0, {"only": 1024}) == "only"


def test_a_stylizer_paints_with_its_companion_where_the_brush_fits_it():
    from instyle.sizes import Brushes

    class Net(Brushes):
        built = 0

        def __init__(self, reference, companions=None):
            self.stroke_reference = reference
            if companions is not None:
                self.companions = companions

        def _load_companion(self, name):
            Net.built += 1
            return Net(self.companions[name])

    main = Net(1024, {"half": 512})
    net, side = main.brush(512)
    assert (net.stroke_reference, side) == (512, 512)
    assert main.brush(512)[0] is net and Net.built == 1  # built once
    assert main.brush(1024) == (main, 1024)
    assert main.brush(2000, 2.0) == (main, 512)
    lone = Net(1024)
    assert lone.brush(300) == (lone, 1024)
