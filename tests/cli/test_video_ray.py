"""``instyle video IN -o OUT --ray``: a long video split over Ray workers (a local cluster, started
once for the module) and joined: the frame count, the frame times and the audio of one run; the
parts that start at a scene cut (or whose warm-up reaches back to their shot's start) give one
run's very frames (compared decoded, on lossless H.264: ``--crf 0``); across the other joins the
warping error is no more than one run's at the same frames."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("cv2")
from helpers import tiny_fast_net
from instyle.video.io import frame_times
from video.clips import make_clip, write_frames

from ._helpers import run_cli

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow  # a Ray cluster: processes, seconds to start


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """A tiny seeded fast network in a file (--model): the Ray workers load it from its path."""
    return tiny_fast_net(tmp_path_factory.mktemp("net") / "net.safetensors", ("a", "b"), seed=0)


def _decoded(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.float32) / 255 for f in c.decode(video=0)]


def _audio(path) -> list[tuple[int, bytes]]:
    import av

    with av.open(str(path)) as c:
        return [(p.pts, bytes(p)) for p in c.demux(c.streams.audio[0]) if p.size]


def test_long_video_split_over_workers(cluster, net, tmp_path, capsys, monkeypatch):
    from instyle.cli import video_cluster
    from instyle.video.stabilize import clip_motion, warping_error

    # 4 s at 24 fps, a cut at frame 24, a keyframe every 12 frames, a tone; parts of half a second
    # (8 on the 2 workers): splits at the cut, at keyframes and at plain frames
    clip = make_clip(tmp_path / "long.mp4", frames=96, audio=True, cut=24, gop=12)
    monkeypatch.setattr(video_cluster, "MAX_PART_SECONDS", 0.5)
    argv = ["video", clip, "--model", net, "--style", "a", "--crf", "0", "--json", "-q"]
    code, out, err = run_cli([*argv, "-o", tmp_path / "one.mp4"], capsys)
    assert code == 0, err
    one = json.loads(out)
    code, out, err = run_cli([*argv, "-o", tmp_path / "ray.mp4", "--ray", "--workers", "2"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["frames"] == one["frames"] == 96 and res["audio"] == "copied" and res["workers"] == 2
    assert res["scene_cuts"] == one["scene_cuts"] == 1
    parts = res["parts"]
    assert len(parts) == 8 and sum(p["frames"] for p in parts) == 96
    assert [p["first"] for p in parts if p["at"] == "scene cut"] == [24]
    assert {p["at"] for p in parts} >= {"start", "scene cut", "keyframe", "frame"}
    assert [p["warm_up"] for p in parts if p["at"] in ("start", "scene cut")] == [0, 0]

    # frame times and audio: one run's, to the tick and to the byte
    assert frame_times(tmp_path / "ray.mp4") == frame_times(tmp_path / "one.mp4")
    assert _audio(tmp_path / "ray.mp4") == _audio(tmp_path / "one.mp4")
    a, b = _decoded(tmp_path / "one.mp4"), _decoded(tmp_path / "ray.mp4")
    assert len(a) == len(b) == 96

    # a part that starts its shot afresh (at the cut, or its warm-up reaching back to the shot's
    # start) gives one run's very frames; the others converge on them
    fresh = [p for p in parts if p["first"] - p["warm_up"] in (0, 24)]
    assert [p["first"] for p in fresh][:4] == [0, 12, 24, 36]
    for p in fresh:
        for i in range(p["first"], p["first"] + p["frames"]):
            assert np.array_equal(a[i], b[i]), i
    joins = [p["first"] for p in parts if p not in fresh]
    assert joins, "no part started mid-shot"

    # across those joins, the warping error is one run's at the same frames (Lai et al. 2018)
    frames = _decoded(clip)
    motion = clip_motion(frames)
    for s in joins:
        one_run = warping_error(a[s - 1 : s + 1], motion[s - 1 : s])
        split = warping_error(b[s - 1 : s + 1], motion[s - 1 : s])
        assert split <= 1.1 * one_run + 1e-3, (s, split, one_run)
    assert warping_error(b, motion, skip=[24]) <= 1.02 * warping_error(a, motion, skip=[24])


def test_the_parts_are_removed_and_nothing_half_written_on_error(cluster, net, tmp_path, capsys):
    clip = make_clip(tmp_path / "c.mp4", frames=24)
    out = tmp_path / "sub" / "o.mp4"
    # an unknown style fails on the workers' first frame: one line, no traceback, nothing left
    code, _, err = run_cli(["video", clip, "--model", net, "--style", "nope", "-o", out, "--ray", "-q"], capsys)
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "sub").exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--workers", "2"], "--workers goes with --ray"),
        (["--ray", "-o", "FOLDER/"], "--ray writes a video file"),
    ],
)
def test_refusals(net, tmp_path, capsys, extra, message):
    clip = make_clip(tmp_path / "c.mp4", frames=6)
    argv = [
        "video",
        clip,
        "--model",
        net,
        "--style",
        "a",
        *(str(tmp_path / "f") + "/" if x == "FOLDER/" else x for x in extra),
    ]
    if "-o" not in extra:
        argv += ["-o", tmp_path / "o.mp4"]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and message in err and "Traceback" not in err, err


def test_a_folder_of_frames_is_refused(net, tmp_path, capsys):
    src = write_frames(tmp_path / "frames", 3, (32, 24))
    code, _, err = run_cli(["video", src, "--model", net, "--style", "a", "-o", tmp_path / "o.mp4", "--ray"], capsys)
    assert code == 2 and "--ray splits a video file" in err, err
