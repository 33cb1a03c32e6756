"""Tests for instyle.video.io: frames and their times in, frames, times and audio out, atomically."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("av")
from instyle.errors import InstyleError, UsageError
from instyle.video.io import VideoSink, VideoSource, frame_times

from .clips import make_clip


def _copy(src, dst_path, **kw):
    sink = VideoSink(dst_path, src, **kw)
    for frame in src.frames():
        sink.write(frame, frame.rgb)
    return sink, sink.close()


def test_frames_times_and_size(tmp_path):
    src = VideoSource(make_clip(tmp_path / "c.mp4", frames=12, size=(64, 48)))
    frames = list(src.frames())
    assert len(frames) == 12 and src.fps == pytest.approx(24, rel=1e-3) and (src.width, src.height) == (64, 48)
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.float32
    assert [f.index for f in frames] == list(range(12))
    np.testing.assert_allclose([f.time for f in frames], np.arange(12) / 24, atol=1e-3)


def test_variable_frame_rate_is_kept(tmp_path):
    times = [0, 0.04, 0.2, 0.25, 0.6, 0.61, 1.0]
    src = VideoSource(make_clip(tmp_path / "vfr.mp4", frames=7, times=times))
    _, out = _copy(src, tmp_path / "out.mp4")
    np.testing.assert_allclose(frame_times(out), times, atol=2e-3)


def test_segment_and_max_size(tmp_path):
    src = VideoSource(make_clip(tmp_path / "c.mp4", frames=48, size=(128, 96)), start=0.5, duration=0.5, max_size=64)
    frames = list(src.frames())
    assert len(frames) == 12 and frames[0].rgb.shape == (48, 64, 3)
    assert frames[0].time == pytest.approx(0.0, abs=1e-3) and frames[-1].time == pytest.approx(11 / 24, abs=1e-3)


def test_audio_is_copied_and_trimmed(tmp_path):
    import av

    clip = make_clip(tmp_path / "a.mp4", frames=48, audio=True)
    sink, out = _copy(VideoSource(clip), tmp_path / "out.mp4")
    assert sink.audio_mode == "copied"
    with av.open(str(out)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "aac"
        assert float(audio.duration * audio.time_base) == pytest.approx(2, abs=0.1)
    sink, out = _copy(VideoSource(clip, start=1.0, duration=0.5), tmp_path / "seg.mp4")
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert float(audio.duration * audio.time_base) == pytest.approx(0.5, abs=0.1)
        assert len(list(c.decode(video=0))) == 12


def test_folders_of_frames_in_and_out(tmp_path):
    src = VideoSource(make_clip(tmp_path / "c.mp4", frames=5))
    _sink, out = _copy(src, str(tmp_path / "frames") + "/")
    assert out is None and sorted(p.name for p in (tmp_path / "frames").iterdir())[0] == "frame_000001.png"
    folder = VideoSource(tmp_path / "frames", fps=10)
    frames = list(folder.frames())
    assert len(frames) == 5 and frames[1].time == pytest.approx(0.1)
    _, out = _copy(folder, tmp_path / "back.mp4")
    np.testing.assert_allclose(frame_times(out), np.arange(5) / 10, atol=2e-3)


def test_rotation_is_applied_to_the_pixels():
    class Rotated:  # a decoded frame as PyAV gives it: stored landscape, to be shown rotated
        width, height, rotation = 4, 2, -90

        def to_ndarray(self, format):
            return np.arange(24, dtype=np.uint8).reshape(2, 4, 3)

    src = VideoSource.__new__(VideoSource)
    src.max_size, src.width, src.height, src.path = None, 4, 2, "r.mp4"
    rgb = src._rgb(Rotated())
    assert rgb.shape == (4, 2, 3)  # upright: portrait
    np.testing.assert_allclose(rgb * 255, np.rot90(np.arange(24).reshape(2, 4, 3), k=3), atol=1e-4)


def test_a_failed_write_leaves_nothing(tmp_path):
    src = VideoSource(make_clip(tmp_path / "c.mp4", frames=6))
    out = tmp_path / "out" / "o.mp4"
    sink = VideoSink(out, src)
    frames = src.frames()
    sink.write(next(frames), np.zeros((48, 64, 3), np.float32))
    sink.abort()
    assert not (tmp_path / "out").exists()  # nor the folder it made


@pytest.mark.parametrize("codec, name", [("libx264", "o.mp4"), ("libvpx-vp9", "o.webm")])
def test_full_resolution_colour_keeps_fine_colour_and_odd_sides(tmp_path, codec, name):
    """yuv444p stores colour per pixel: a 1-px red/blue checker survives (4:2:0 averages it to
    purple), and odd sides need no padding."""
    import av

    h, w = 33, 47
    checker = ((np.arange(h)[:, None] + np.arange(w)[None, :]) % 2).astype(np.float32)
    rgb = np.stack([checker, np.zeros_like(checker), 1 - checker], axis=2)  # red / blue pixels
    src = VideoSource(make_clip(tmp_path / "c.mp4", frames=3, size=(w + 1, h + 1)))  # the frames written set the size
    results = {}
    for pix_fmt in ("yuv420p", "yuv444p"):
        sink = VideoSink(tmp_path / pix_fmt / name, src, codec=codec, crf=4, pix_fmt=pix_fmt)
        for frame in src.frames():
            sink.write(frame, rgb)
        with av.open(str(sink.close())) as c:
            stream = c.streams.video[0]
            assert stream.codec_context.pix_fmt == pix_fmt
            out = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(np.float32) / 255
        results[pix_fmt] = (out.shape[:2], np.abs(out[:h, :w] - rgb).mean())
    assert results["yuv444p"][0] == (h, w) and results["yuv420p"][0] == (h + 1, w + 1)
    assert results["yuv444p"][1] < 0.05 < results["yuv420p"][1]


def test_written_file_gets_the_usual_permissions(tmp_path):
    """The file is encoded into a temporary (``mkstemp``: 0600) and renamed: a new one must still get
    ``0666 & ~umask``, as any program's output does, and one it replaces keeps its own."""
    import os
    import stat

    src = VideoSource(make_clip(tmp_path / "c.mp4", frames=2))
    old = os.umask(0o022)
    try:
        _, out = _copy(src, tmp_path / "new.mp4")
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        os.chmod(out, 0o640)
        _, out = _copy(src, out, overwrite=True)
        assert stat.S_IMODE(out.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_existing_output_and_bad_names(tmp_path):
    src = VideoSource(make_clip(tmp_path / "c.mp4", frames=2))
    (tmp_path / "o.mp4").write_bytes(b"mine")
    with pytest.raises(UsageError, match="already exists"):
        VideoSink(tmp_path / "o.mp4", src)
    with pytest.raises(UsageError, match=".mp4"):
        VideoSink(tmp_path / "o.gif", src)
    with pytest.raises(UsageError, match="codec"):
        VideoSink(tmp_path / "p.mp4", src, codec="h265")
    with pytest.raises(UsageError, match="pixel format"):
        VideoSink(tmp_path / "p.mp4", src, pix_fmt="rgb24")
    with pytest.raises(UsageError, match="mpeg4 codec writes yuv420p only"):
        VideoSink(tmp_path / "p.mp4", src, codec="mpeg4", pix_fmt="yuv444p")
    assert (tmp_path / "o.mp4").read_bytes() == b"mine"


@pytest.mark.parametrize(
    "kind, message",
    [
        ("audio", "no video stream"),
        ("image", "still image"),
        ("text", "not a video file"),
        ("truncated", "corrupt"),
        ("missing", "no such file"),
        ("empty", "not a video file"),
    ],
)
def test_bad_inputs_are_one_line(tmp_path, kind, message):
    import av
    from PIL import Image

    path = tmp_path / f"bad_{kind}.mp4"
    if kind == "audio":
        with av.open(str(path), "w") as c:
            a = c.add_stream("aac", rate=44100)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
            frame.sample_rate = 44100
            for p in [*a.encode(frame), *a.encode()]:
                c.mux(p)
    elif kind == "image":
        path = tmp_path / "photo.png"
        Image.new("RGB", (32, 32), "red").save(path)
    elif kind == "text":
        path.write_text("not a video\n")
    elif kind == "truncated":
        data = make_clip(tmp_path / "full.mp4", frames=48, size=(128, 96)).read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])
    elif kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(InstyleError) as exc:
        list(VideoSource(path).frames())
    assert message in str(exc.value) and "\n" not in str(exc.value)
