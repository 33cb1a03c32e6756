"""Tests for instyle.video.stabilize and VideoStylizer: shared statistics, flow, cuts, no carry-over."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("cv2")
from instyle.nn.functional import instance_norm
from instyle.nn.stats_filter import statistics_filter
from instyle.video.stabilize import (
    GridAlignment,
    MotionEstimator,
    SceneCuts,
    StabilizeConfig,
    StatisticsEMA,
    blend_warped,
    camera_motion,
    warp,
)
from instyle.video.stylizer import VideoStylizer

from .clips import frame_pattern


def test_statistics_ema_averages_then_resets():
    ema = StatisticsEMA(0.75)
    one, three = torch.ones(1, 2, 1, 1), torch.full((1, 2, 1, 1), 3.0)

    def paint(index, shot, *stats):
        f = ema.frame(index, shot)
        f("first layer", one, one)  # steady: the exposure gate of the first layer stays out of the way
        out = [f(key, mean, mean)[0].flatten().tolist() for key, mean in stats]
        f.done()
        return out

    assert paint(0, 0, ("k", one)) == [[1.0, 1.0]]  # the first frame: its own
    assert paint(1, 0, ("k", three), ("other", three)) == [[1.5, 1.5], [3.0, 3.0]]  # layers kept apart
    assert paint(2, 0, ("k", three)) == [[0.75 * 1.5 + 0.75] * 2]
    assert paint(3, 1, ("k", three)) == [[3.0, 3.0]]  # a new shot starts from its own
    ema.reset()
    assert paint(0, 0, ("k", one)) == [[1.0, 1.0]]


def test_the_first_layer_leaves_the_average_when_the_exposure_changes():
    from instyle.video.stabilize import EXPOSURE_TOLERANCE, exposure_gate

    mean, std = torch.full((2, 4, 1, 1), 0.5), torch.full((2, 4, 1, 1), 0.2)
    assert exposure_gate(mean, std, mean, std).flatten().tolist() == [1.0, 1.0]  # as before: keep the average
    assert exposure_gate(mean * 1.02, std * 1.02, mean, std).min() > 0.99  # a scene moving a little
    assert exposure_gate(mean * 1.6, std * 1.6, mean, std).max() < 0.01  # lit 1.6x brighter
    # a frame of another shot than the statistics: no past yet (zeros) gives its own, no NaN
    zero = torch.zeros_like(mean)
    assert exposure_gate(mean, std, zero, zero).max() == 0.0
    assert 0.3 < exposure_gate(mean + EXPOSURE_TOLERANCE * 0.2, std, mean, std).mean() < 0.4  # d = tolerance
    # in a frame: the first layer called takes the gate, the others the plain average
    ema = StatisticsEMA(0.5)
    f = ema.frame(0, 0)
    f("first", mean, std), f("second", mean, std)
    f.done()
    f = ema.frame(1, 0)
    first = f("first", mean * 2, std * 2)
    second = f("second", mean * 2, std * 2)
    torch.testing.assert_close(first[0], mean * 2)  # exposure doubled: the frame's own
    torch.testing.assert_close(second[0], mean * 1.5)  # deeper: shared as before


def test_frames_painted_two_at_once_average_in_stream_order():
    """With lag 2, frame t mixes with the average through t - 2, whatever order frames finish in;
    a frame started before t - 2 finished is refused (no waiting, no silent mix-up)."""
    values = [1.0, 5.0, 2.0, 8.0, 4.0]

    def run(order):
        ema, outs, open_ = StatisticsEMA(0.5, lag=2), {}, {}
        for step in order:  # ("start", t) or ("done", t)
            kind, t = step
            if kind == "start":
                f = ema.frame(t, 0)
                f(
                    "first layer", torch.ones(1, 1, 1, 1), torch.ones(1, 1, 1, 1)
                )  # steady (exposure gate out of the way)
                outs[t] = f("k", torch.full((1, 1, 1, 1), values[t]), torch.ones(1, 1, 1, 1))[0].item()
                open_[t] = f
            else:
                open_.pop(t).done()
        return outs

    in_order = [("start", 0), ("start", 1), ("done", 0), ("start", 2), ("done", 1), ("start", 3), ("done", 2)]
    swapped = [("start", 0), ("start", 1), ("done", 1), ("done", 0), ("start", 2), ("start", 3), ("done", 3)]
    a, b = run(in_order + [("start", 4)]), run(swapped + [("done", 2), ("start", 4)])
    assert a == b
    assert a[0] == 1.0 and a[1] == 5.0  # nothing averaged yet
    assert a[2] == 0.5 * 1.0 + 0.5 * 2.0  # frame 0's statistics only
    assert a[3] == 0.5 * (0.5 * 1.0 + 0.5 * 5.0) + 0.5 * 8.0  # frames 0, 1
    with pytest.raises(RuntimeError, match="more than 2 at a time"):
        run([("start", 0), ("start", 1), ("start", 2)])


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


@pytest.mark.parametrize("validity", ["color", "both-ways"])
def test_uncovered_background_is_masked(validity):
    """A square of another picture moves 8 px right over a still photo: the strip it uncovered was
    not visible in the previous frame, and either check says so; the still background holds."""
    import cv2
    import skimage.data

    photo = cv2.resize(skimage.data.coffee(), (160, 96), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    patch = cv2.resize(skimage.data.astronaut(), (40, 40), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    prev, cur = photo.copy(), photo.copy()
    prev[28:68, 50:90], cur[28:68, 58:98] = patch, patch
    flow, mask = MotionEstimator(validity=validity)(prev, cur)
    assert mask[32:64, 51:56].mean() < 0.3  # uncovered
    assert mask[:, 120:].mean() > 0.9 and mask[:20].mean() > 0.9  # still background
    assert np.median(flow[34:62, 66:90, 0]) == pytest.approx(-8, abs=0.5)  # the square, current -> previous


def test_motion_is_found_to_a_fraction_of_a_pixel():
    """The blend warps the previous output by this flow, and texture painted on the scene only
    stays put if it is right to a fraction of a pixel: a photo moved by (2.4, −1.3) px is found
    within 0.1 px on average (DIS's preset alone, stopping at a quarter of the frame: ~0.19)."""
    import cv2
    import skimage.data

    prev = cv2.resize(skimage.data.coffee(), (320, 200), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    shift = np.float32([[1, 0, 2.4], [0, 1, -1.3]])
    cur = cv2.warpAffine(prev, shift, (320, 200), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    flow, _ = MotionEstimator()(prev, cur)
    inner = flow[16:-16, 16:-16]
    assert np.hypot(inner[..., 0] + 2.4, inner[..., 1] - 1.3).mean() < 0.1  # current -> previous


def test_blend_pulls_towards_the_warped_previous_output_where_the_motion_is_consistent():
    h, w = 64, 96
    flow, mask = np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32)
    mask[:, : w // 2] = 0  # say the left half was just uncovered
    current, previous = np.full((h, w, 3), 0.52, np.float32), np.full((h, w, 3), 0.48, np.float32)
    out = blend_warped(current, previous, flow, mask, 0.5, tolerance=1.0, still=1.0)
    assert out[:, : w // 2].min() == np.float32(0.52)  # uncovered: the current output alone
    np.testing.assert_allclose(out[:, w // 2 :], 0.5 + 0.02 * (1 - np.exp(-(0.04**4))), atol=1e-6)  # ~half of each


def test_blend_weight_falls_off_with_the_difference_between_the_outputs():
    """The range term: where the warped previous output resembles the new one (texture that moved
    with the scene) it is blended in at nearly full weight; where it differs by far more than the
    tolerance (the flow was wrong, something new appeared) it is left out, so nothing trails."""
    h, w = 8, 8
    flow, mask = np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32)
    current = np.full((h, w, 3), 0.5, np.float32)
    for falloff in (2.0, 4.0):
        for gap in (0.01, 0.1, 0.5):
            expected = 0.85 * np.exp(-((gap / 0.1) ** falloff))
            out = blend_warped(current, current - gap, flow, mask, 0.85, tolerance=0.1, falloff=falloff, still=1.0)
            np.testing.assert_allclose((current - out) / gap, expected, rtol=1e-3, atol=1e-6)
    # the steep fall-off: nearly the full weight up to half the tolerance, where a Gaussian has lost a fifth
    half = [blend_warped(current, current - 0.05, flow, mask, 1.0, 0.1, f, 1.0)[0, 0, 0] for f in (2.0, 4.0)]
    assert (0.5 - half[1]) / 0.05 > 0.93 > 0.8 > (0.5 - half[0]) / 0.05
    with pytest.raises(ValueError, match="tolerance"):
        StabilizeConfig(tolerance=0.0)
    with pytest.raises(ValueError, match="falloff"):
        StabilizeConfig(falloff=0.5)


def test_blend_tolerance_is_wider_where_the_scene_stands_still():
    """Where the flow does not move a pixel, the input there did not change, and the network's new
    paint differs only through what it sees farther off: a difference the moving part rejects is
    held there, ``still`` times the tolerance acting as the tolerance."""
    h, w = 8, 16
    flow, mask = np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32)
    flow[:, w // 2 :, 0] = 1.0  # the right half moves by a pixel
    current = np.full((h, w, 3), 0.5, np.float32)
    out = blend_warped(current, current - 0.15, flow, mask, 0.9, tolerance=0.1, falloff=4.0, still=2.0)
    pulled = (current - out)[..., 0] / 0.15
    np.testing.assert_allclose(pulled[:, : w // 2], 0.9 * np.exp(-((0.15 / 0.2) ** 4)), rtol=1e-4)  # still: 0.65
    np.testing.assert_allclose(pulled[:, w // 2 + 2 : -2], 0.9 * np.exp(-((0.15 / 0.1) ** 4)), rtol=1e-3)  # 0.006
    same = blend_warped(current, current - 0.15, flow, mask, 0.9, 0.1, 4.0, still=1.0)  # one rule everywhere
    np.testing.assert_allclose(same[:, 0], same[:, w // 2 + 4], atol=1e-6)
    with pytest.raises(ValueError, match="still"):
        StabilizeConfig(still=0.5)
    with pytest.raises(ValueError, match="flow check"):
        StabilizeConfig(flow_check="forward")
    assert VideoStylizer(lambda x: x, StabilizeConfig(flow_check="both-ways")).motion.validity == "both-ways"
    assert StabilizeConfig(flow_check="colour").flow_check == "color"  # the old spelling, accepted


def test_camera_motion_is_the_median_of_the_consistent_flow():
    flow = np.zeros((40, 50, 2), np.float32)
    flow[...] = (-9.0, 2.0)  # current -> previous: the scene moved 9 px right, 2 px up
    mask = np.ones((40, 50), np.float32)
    flow[:10] = (30.0, 30.0)  # an outlier region the check rejects
    mask[:10] = 0
    np.testing.assert_allclose(camera_motion(flow, mask), (9.0, -2.0))
    np.testing.assert_allclose(camera_motion(flow, np.zeros_like(mask)), (9.0, -2.0))  # too few kept: all


def _strided(grid):
    """A toy network that is not shift-equivariant: each pixel gets the value of its grid cell's
    top-left pixel (like a strided conv followed by nearest upsampling)."""

    def run(rgb):
        h, w = rgb.shape[:2]
        cells = rgb[::grid, ::grid]
        return np.repeat(np.repeat(cells, grid, axis=0), grid, axis=1)[:h, :w]

    return run


@pytest.mark.parametrize("grid", [4, 8])
def test_grid_alignment_makes_a_strided_network_follow_a_pan(grid):
    """The same scene moved by 3 px: plain stylization paints it in another phase; aligned, the
    output moves with the scene, exactly."""
    scene = np.random.default_rng(0).random((70, 90, 3)).astype(np.float32)
    a, b = scene[:, 10:74], scene[:, 7:71]  # the camera panned 3 px left: the scene moved 3 px right
    net = _strided(grid)
    assert np.abs(net(b)[:, 3 + grid :] - net(a)[:, grid:-3]).mean() > 0.05  # plain: other phase
    align = GridAlignment(grid)
    out_a = align(net, a)
    align.update(np.array([3.0, 0.0]))  # the scene moved 3 px right
    assert align.phase == (0, -3 % grid)  # padded so the scene keeps its phase: 3 + pad ≡ 0
    out_b = align(net, b)
    assert out_b.shape == b.shape
    np.testing.assert_array_equal(out_b[:, 3 + grid :], out_a[:, grid:-3])
    align.reset()
    assert align.phase == (0, 0)


def test_grid_alignment_is_reset_at_a_cut_and_pads_tiny_frames():
    align = GridAlignment(4)
    align.shift[:] = (1.0, 2.0)
    tiny = np.ones((2, 3, 3), np.float32)
    assert align(lambda x: x * 2, tiny).shape == tiny.shape  # padding larger than the frame: edge mode
    with pytest.raises(ValueError):
        GridAlignment(0)


def _flickering(seed=0):
    rng = np.random.default_rng(seed)
    return lambda rgb: np.clip(rgb * 0.8 + rng.uniform(-0.05, 0.05), 0, 1).astype(np.float32)  # brightness flicker


def test_stabilization_removes_flicker_and_keeps_nothing_across_a_cut():
    """A photo panning 2 px a frame, painted with a flickering brightness: warped by the true
    motion, the stabilized output changes far less from frame to frame than the per-frame one."""
    import cv2
    import skimage.data

    photo = cv2.resize(skimage.data.coffee(), (96, 64), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    frames = [np.roll(photo, 2 * i, axis=1) for i in range(12)]
    frames += [1.0 - np.roll(photo, 2 * i, axis=1) for i in range(4)]  # a new shot: its negative
    plain = list(VideoStylizer(_flickering(), StabilizeConfig(mode="none"))(frames))
    video = VideoStylizer(_flickering(), StabilizeConfig(mode="flow", blend=0.8))
    smooth = list(video(frames))

    def change(outs):  # warping error by the true motion, away from the column that wraps round
        return np.mean([np.abs(outs[t] - np.roll(outs[t - 1], 2, axis=1))[:, 8:-8].mean() for t in range(1, 12)])

    assert change(smooth) < 0.6 * change(plain)
    assert video.cut_count == 1  # the cut, not the first frame
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
    assert StabilizeConfig(mode="flow", blend=0.0).motion and not StabilizeConfig(mode="flow", blend=0.0).flow
    assert not StabilizeConfig(mode="flow", blend=0.0, align=False).motion
    assert not StabilizeConfig(mode="stats").motion
    for kw in ({"mode": "best"}, {"momentum": 1.0}, {"blend": -0.1}, {"flow_width": 8}):
        with pytest.raises(ValueError):
            StabilizeConfig(**kw)


def test_video_stylizer_aligns_its_grid_to_the_camera_and_restarts_at_a_cut():
    import cv2

    scene = cv2.GaussianBlur(np.random.default_rng(1).random((80, 160, 3)).astype(np.float32), (0, 0), 1.5)
    frames = [scene[:, 40 - 3 * t : 136 - 3 * t] for t in range(6)]  # a steady 3 px/frame pan
    net = _strided(4)
    config = StabilizeConfig(mode="flow", blend=0.0)
    plain = list(VideoStylizer(net, config)(frames))  # grid 1: not aligned
    aligned = list(VideoStylizer(net, config, grid=4)(frames))

    def flicker(outs):  # frame t against frame t-1 moved by the 3 px the scene moved
        return np.mean([np.abs(outs[t][:, 3 + 8 : -8] - outs[t - 1][:, 8:-11]).mean() for t in range(1, 6)])

    assert flicker(aligned) < 0.2 * flicker(plain)
    video = VideoStylizer(net, config, grid=4)
    list(video(frames))
    assert video.align.phase == (0, -15 % 4)  # the scene moved 5 × 3 px right
    video.frame(np.zeros_like(frames[0]))  # a cut
    assert video.align.phase == (0, 0)


def test_analysis_numbers_frames_and_shots_in_stream_order():
    video = VideoStylizer(lambda x: x, StabilizeConfig(mode="none"))
    a, b = frame_pattern(0, 40, 30), 255 - frame_pattern(9, 40, 30)
    found = [video.analyze(f.astype(np.float32) / 255) for f in (a, a, b, b)]
    assert [m.new_shot for m in found] == [True, False, True, False]
    assert [(m.index, m.shot) for m in found] == [(0, 0), (1, 0), (2, 1), (3, 1)]
    assert video.cut_count == 1


def test_two_frames_painted_at_once_differ_little_from_one_at_a_time():
    """Shared statistics with workers=2 average over the frames up to t - 2: on a pan, the output
    stays within a few levels of the one-at-a-time run (here a stand-in normalizing network)."""
    from instyle.nn.functional import instance_norm

    def net(rgb):  # instance norm over the frame, keyed: what the statistics filter reaches
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
        return instance_norm(x, key="in")[0].permute(1, 2, 0).numpy() * 0.2 + 0.5

    frames = [frame_pattern(i, 64, 48).astype(np.float32) / 255 for i in range(8)]
    config = StabilizeConfig(mode="stats")
    one = list(VideoStylizer(net, config)(frames))
    video = VideoStylizer(net, config, workers=2)
    motions = [video.analyze(f) for f in frames]
    two = [None] * 8
    for t in range(0, 8, 2):  # pairs painted "together": t + 1 starts before t is done
        two[t], two[t + 1] = video.paint(frames[t], motions[t]), video.paint(frames[t + 1], motions[t + 1])
    two = [video.finish(p, m) for p, m in zip(two, motions)]
    assert max(np.abs(a - b).max() for a, b in zip(one, two)) < 0.02
    assert np.abs(one[3] - two[3]).max() > 0  # but not the same average


def test_still_background_beside_a_moving_object_keeps_still():
    """DIS's flow is smooth, so an object moving over a still background drags the background next
    to it along; where the camera's motion (here none) explains a pixel better, it replaces the
    flow. A photo cut-out moves 7 px right over another photo: of the background within 6 px of it
    (in both frames), a third of DIS's flow is off by over half a pixel, of the fused flow an eighth;
    the cut-out's own motion is kept."""
    import cv2
    import skimage.data

    photo = cv2.resize(skimage.data.coffee(), (320, 192), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    patch = cv2.resize(skimage.data.astronaut(), (80, 64), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    prev, cur = photo.copy(), photo.copy()
    prev[64:128, 100:180], cur[64:128, 107:187] = patch, patch
    near = np.zeros((192, 320), bool)
    near[58:134, 94:193] = True
    near[64:128, 100:187] = False  # the band 6 px around both places of the cut-out
    off = {}
    for validity in ("color", "both-ways"):  # both-ways: DIS's flow as it is
        flow, _ = MotionEstimator(validity=validity)(prev, cur)
        off[validity] = (np.abs(flow[near]).max(axis=1) > 0.5).mean()
        assert np.median(flow[70:122, 120:180, 0]) == pytest.approx(-7, abs=0.5)
    assert off["both-ways"] > 0.25  # ~0.32
    assert off["color"] < 0.5 * off["both-ways"]  # ~0.12
