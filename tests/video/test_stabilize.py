"""Tests for instyle.video.stabilize and VideoStylizer: shared statistics, flow, cuts, no carry-over."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("cv2")
from instyle.nn.functional import instance_norm, statistics_filter  # noqa: E402
from instyle.video.stabilize import (  # noqa: E402
    FlowBlender,
    MotionEstimator,
    SceneCuts,
    StabilizeConfig,
    StatisticsEMA,
    warp,
)
from instyle.video.stylizer import VideoStylizer  # noqa: E402

from .clips import frame_pattern  # noqa: E402


def test_statistics_ema_averages_then_resets():
    ema = StatisticsEMA(0.75)
    one, three = torch.ones(1, 2, 1, 1), torch.full((1, 2, 1, 1), 3.0)
    assert ema("k", one, one)[0].flatten().tolist() == [1.0, 1.0]  # the first frame: its own
    mean, std = ema("k", three, three)
    assert mean.flatten().tolist() == [1.5, 1.5] and std.flatten().tolist() == [1.5, 1.5]
    assert ema("other", three, three)[0].flatten().tolist() == [3.0, 3.0]  # layers kept apart
    ema.reset()
    assert ema("k", three, three)[0].flatten().tolist() == [3.0, 3.0]


def test_statistics_filter_reaches_keyed_instance_norms_only():
    x = torch.randn(1, 2, 4, 4) * 3 + 5
    fixed = (torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1))
    with statistics_filter(lambda key, mean, std: fixed):
        torch.testing.assert_close(instance_norm(x, key="layer"), x)  # (x - 0) / 1
        assert instance_norm(x).abs().mean() < 1.5  # unkeyed: its own statistics
    assert not torch.allclose(instance_norm(x, key="layer"), x)  # outside the block: its own


def test_scene_cuts():
    cuts = SceneCuts(0.25)
    a, b = frame_pattern(0, 64, 48) / 255.0, frame_pattern(1, 64, 48) / 255.0
    assert cuts(a) and not cuts(b)  # the first frame starts a shot; motion is not a cut
    assert cuts(1.0 - b)  # a different picture is
    assert cuts(np.zeros((30, 40, 3)))  # so is another size


def test_motion_is_recovered_and_occlusions_masked():
    prev = frame_pattern(0, 96, 64).astype(np.float32) / 255
    cur = np.roll(prev, 3, axis=1)  # everything moved 3 px right
    flow, mask = MotionEstimator()(prev, cur)
    inner = (slice(10, -10), slice(10, -10))
    assert np.median(flow[inner][..., 0]) == pytest.approx(-3, abs=0.5)  # current -> previous: 3 px left
    assert np.abs(warp(prev, flow)[inner] - cur[inner]).mean() < 0.05
    assert mask[inner].mean() > 0.8


def test_flow_blender_pulls_towards_the_warped_previous_output():
    prev_in = frame_pattern(0, 96, 64).astype(np.float32) / 255
    blender = FlowBlender(0.5)
    out = blender(prev_in, prev_in, np.zeros_like(prev_in), np.ones_like(prev_in))
    assert out.mean() == pytest.approx(0.5, abs=0.05)  # a still scene: half of each


def _flickering(seed=0):
    rng = np.random.default_rng(seed)
    return lambda rgb: np.clip(rgb * 0.8 + rng.uniform(-0.15, 0.15), 0, 1).astype(np.float32)  # brightness flicker


def test_stabilization_removes_flicker_and_keeps_nothing_across_a_cut():
    frames = [frame_pattern(i, 96, 64).astype(np.float32) / 255 for i in range(12)]
    frames += [1.0 - frame_pattern(i, 96, 64).astype(np.float32) / 255 for i in range(4)]  # a new shot
    plain = list(VideoStylizer(_flickering(), StabilizeConfig(mode="none"))(frames))
    video = VideoStylizer(_flickering(), StabilizeConfig(mode="flow", blend=0.8))
    smooth = list(video(frames))
    change = lambda outs: np.mean([np.abs(outs[t] - outs[t - 1]).mean() for t in range(1, 12)])  # noqa: E731
    assert change(smooth) < 0.6 * change(plain)
    assert video.cut_count == 2
    np.testing.assert_array_equal(smooth[12], plain[12])  # the first frame after the cut: its own only


def test_shared_statistics_steady_a_torch_network():
    """An object crossing the frame moves every channel's statistics, so per-frame instance norm
    repaints the still background from frame to frame; shared statistics keep it steady."""
    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 8, 3, padding=1)

    def stylize(rgb):
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
        return torch.sigmoid(instance_norm(net(x), key="n"))[0, :3].permute(1, 2, 0).detach().numpy()

    background = frame_pattern(0, 64, 48).astype(np.float32) / 255
    frames = []
    for i in range(10):
        f = background.copy()
        f[:16, 6 * i : 6 * i + 12] = 1.0  # a white object crossing the top
        frames.append(f)
    plain = list(VideoStylizer(stylize, StabilizeConfig(mode="none"))(frames))
    shared = list(VideoStylizer(stylize, StabilizeConfig(mode="stats", momentum=0.9))(frames))
    jump = lambda outs: np.mean([np.abs(outs[t][24:] - outs[t - 1][24:]).mean() for t in range(1, 10)])  # noqa: E731
    assert jump(shared) < 0.5 * jump(plain)


def test_config_is_checked():
    for kw in ({"mode": "best"}, {"momentum": 1.0}, {"blend": -0.1}, {"flow_width": 8}):
        with pytest.raises(ValueError):
            StabilizeConfig(**kw)
