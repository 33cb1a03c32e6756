"""Where a long video is split for ``instyle video --ray`` (:func:`instyle.video.segments.plan`) and
the grid's phase a part starts with (:meth:`Scan.shifts`): no video, no workers."""

from __future__ import annotations

import numpy as np
import pytest

from instyle.errors import InstyleError
from instyle.video.segments import Scan, plan


def _scan(n: int, cuts=(), keys=(), camera=(1.25, -0.5)) -> Scan:
    cut = np.zeros(n, bool)
    cut[[0, *cuts]] = True
    key = np.zeros(n, bool)
    key[[0, *keys]] = True
    steps = np.tile(np.array(camera, np.float64), (n, 1))
    steps[cut] = 0.0
    return Scan(np.arange(n) / 24.0, key, cut, steps)


def test_a_split_goes_to_a_scene_cut_near_the_even_split_and_starts_afresh():
    parts = plan(_scan(100, cuts=[45], keys=[48, 50]), 2, warm_up=24)
    assert [(p.first, p.end, p.warm, p.shift) for p in parts] == [(0, 45, 0, None), (45, 100, 0, None)]


def test_else_to_the_nearest_keyframe_with_a_warm_up_and_the_grids_phase():
    found = _scan(100, cuts=[10], keys=[48, 70])
    parts = plan(found, 2, warm_up=24)
    assert [(p.first, p.end, p.warm) for p in parts] == [(0, 48, 0), (48, 100, 24)]
    # the camera's steps summed from the shot's start (frame 10) to the warm-up's first frame (24)
    assert parts[1].shift == pytest.approx((14 * 1.25, 14 * -0.5))
    assert parts[1].shift == tuple(found.shifts()[24])
    assert plan(found, 2, warm_up=24, align=False)[1].shift is None


def test_a_warm_up_stops_at_its_shots_start_and_a_split_far_from_both_is_kept():
    parts = plan(_scan(100, cuts=[40], keys=[90]), 2, warm_up=24)
    assert [(p.first, p.warm, p.shift) for p in parts] == [(0, 0, None), (50, 10, None)]  # starts at the cut


def test_more_parts_than_frames_and_one_part():
    assert [(p.first, p.end) for p in plan(_scan(3), 8, warm_up=4)] == [(0, 1), (1, 2), (2, 3)]
    assert [(p.first, p.end, p.warm) for p in plan(_scan(10), 1, warm_up=4)] == [(0, 10, 0)]
    with pytest.raises(InstyleError, match="no frames"):
        plan(Scan(), 2, warm_up=4)


def test_shifts_add_up_in_stream_order_and_reset_at_cuts():
    found = _scan(6, cuts=[3], camera=(0.1, 0.2))
    want = np.zeros(2)
    for i in range(6):
        want = np.zeros(2) if i in (0, 3) else want + np.array([0.1, 0.2])
        assert np.array_equal(found.shifts()[i], want), i  # the same floating-point sums, to the bit


def test_chunks_join_in_order_and_times_must_rise():
    a, b = _scan(4), _scan(8)
    joined = Scan.join(
        [Scan(a.times, a.keys, a.cuts, a.camera), Scan(b.times[4:], b.keys[4:], b.cuts[4:], b.camera[4:])]
    )
    assert len(joined) == 8 and np.array_equal(joined.times, b.times)
    with pytest.raises(InstyleError, match="frame times"):
        Scan.join([a, a])
