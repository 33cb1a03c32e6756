"""Containers and time bases (issue 30): every input container and time base written to every
output container keeps its frame times, its audio (copied, or re-encoded to what the container
holds) and its length; container/codec pairs are checked before any work; cut-short files are
refused. Clips are 48 frames, longer than x264's lookahead, so a time base the muxer rewrites
after its header (MP4: 1/1000 -> 1/16000) would show."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

av = pytest.importorskip("av")
from instyle.choices import CONTAINER_AUDIO, VIDEO_CONTAINERS  # noqa: E402
from instyle.errors import InstyleError, UsageError  # noqa: E402
from instyle.video.io import VideoSink, VideoSource, frame_times  # noqa: E402

from .clips import make_clip  # noqa: E402

#: (suffix, ticks per second): Matroska and WebM count milliseconds, phone QuickTime 1/600,
#: MPEG-TS 1/90000, MP4 as FFmpeg writes it.
INPUTS = [(".mkv", 1000), (".webm", 1000), (".mov", 600), (".ts", 90000), (".mp4", 16000), (".avi", 24)]


def _clip(tmp_path, suffix, ticks, audio=True):
    codec = "libvpx-vp9" if suffix == ".webm" else "mpeg4" if suffix == ".avi" else "libx264"
    clip = make_clip(tmp_path / f"in{suffix}", frames=48, codec=codec, time_base=ticks, audio=audio)
    return VideoSource(clip)


def _copy(src, path, **kw):
    sink = VideoSink(path, src, **kw)
    for frame in src.frames():
        sink.write(frame, frame.rgb)
    return sink, sink.close()


@pytest.mark.parametrize("suffix,ticks", INPUTS, ids=[s[1:] for s, _ in INPUTS])
@pytest.mark.parametrize("out_suffix", list(VIDEO_CONTAINERS), ids=[s[1:] for s in VIDEO_CONTAINERS])
def test_frame_times_and_audio_survive_every_container_pair(tmp_path, suffix, ticks, out_suffix):
    src = _clip(tmp_path, suffix, ticks, audio=suffix != ".avi")
    sink, out = _copy(src, tmp_path / f"out{out_suffix}")
    want, got = np.array(frame_times(src.path)), np.array(frame_times(out))
    assert len(got) == len(want) == 48
    np.testing.assert_allclose(got - got[0], want - want[0], atol=1.5e-3)
    if suffix == ".avi":
        return
    copyable, reencoded = CONTAINER_AUDIO[out_suffix]
    copied = copyable is None or src.audio_codec in copyable
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        # (decoders may carry a suffix: mp3float)
        assert audio.codec_context.name.startswith(src.audio_codec if copied else reencoded.removeprefix("lib"))
        seconds = float(audio.duration * audio.time_base) if audio.duration else c.duration / 1e6
        assert seconds == pytest.approx(2.0, abs=0.15)
    assert sink.audio_mode == ("copied" if copied else f"re-encoded to {reencoded}")


@pytest.mark.parametrize("out_suffix", [".avi", ".mp4", ".mkv"])
def test_mpeg4_takes_a_90khz_time_base(tmp_path, out_suffix):
    # MPEG-4 part 2 refuses time base denominators over 65535: TS and frames folders are 1/90000
    src = _clip(tmp_path, ".ts", 90000)
    _, out = _copy(src, tmp_path / f"out{out_suffix}", codec="mpeg4")
    want, got = np.array(frame_times(src.path)), np.array(frame_times(out))
    np.testing.assert_allclose(got - got[0], want - want[0], atol=1e-3)


@pytest.mark.parametrize("suffix", list(VIDEO_CONTAINERS))
def test_every_container_takes_its_codecs_and_refuses_the_others_up_front(tmp_path, suffix):
    src = _clip(tmp_path, ".mp4", 16000, audio=False)
    assert VideoSink(tmp_path / f"o{suffix}", src).codec == VIDEO_CONTAINERS[suffix][0]
    for codec in ("libx264", "mpeg4", "libvpx-vp9"):
        if codec in VIDEO_CONTAINERS[suffix]:
            continue
        with pytest.raises(UsageError, match="cannot hold"):
            VideoSink(tmp_path / f"o{suffix}", src, codec=codec)
    assert not list(tmp_path.glob("o*")) and not list(tmp_path.glob(".o*"))


def _remux(src, dst, **options):
    with av.open(str(src)) as i, av.open(str(dst), "w", options=options) as o:
        stream = o.add_stream_from_template(i.streams.video[0])
        for packet in i.demux(i.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                o.mux(packet)
    return dst


@pytest.mark.parametrize("kind", ["faststart.mp4", "mkv", "webm", "ts", "mp4-segment"])
def test_a_file_cut_short_is_refused(tmp_path, kind):
    if kind in ("webm", "ts"):
        whole = _clip(tmp_path, f".{kind}", 1000 if kind == "webm" else 90000, audio=False).path
    else:  # (a plain MP4 keeps its index at the end: cut, it does not open at all)
        mp4 = _clip(tmp_path, ".mp4", 16000, audio=False).path
        whole = _remux(mp4, tmp_path / ("w.mkv" if kind == "mkv" else "w.mp4"), movflags="faststart")
    data = open(whole, "rb").read()
    cut = tmp_path / f"cut{str(whole)[str(whole).rindex('.') :]}"
    cut.write_bytes(data[: len(data) // 2 + 1])  # (an odd byte: a TS cut inside a 188-byte packet)
    if kind == "mp4-segment":  # a segment that ends before the cut still reads
        assert len(list(VideoSource(cut, duration=0.2).frames())) == 5
        return
    with pytest.raises(InstyleError, match="truncated: (its frames end at|it ends inside a transport-stream packet)"):
        list(VideoSource(cut).frames())


def test_whole_files_are_not_called_truncated(tmp_path):
    # variable frame rate, audio running past the last picture, a segment: all complete
    times = [0, 0.04, 0.2, 0.25, 0.6, 0.61, 1.0]
    for suffix in (".mp4", ".mkv"):
        clip = make_clip(tmp_path / f"vfr{suffix}", frames=7, times=times, audio=True)
        assert len(list(VideoSource(clip).frames())) == 7
        assert len(list(VideoSource(clip, start=0.1, duration=0.3).frames())) == 2


@pytest.mark.parametrize("second", [(96, 72), (48, 36), (64, 48)], ids=["grows", "shrinks", "same"])
def test_joined_clips_play_through(tmp_path, second):
    # `cat a.ts b.ts`: the times start again and the size may change; the output plays both parts
    # one after the other at the first part's size, its audio along
    a = make_clip(tmp_path / "a.ts", frames=24, size=(64, 48), time_base=90000, audio=True).read_bytes()
    b = make_clip(tmp_path / "b.ts", frames=24, size=second, time_base=90000, audio=True).read_bytes()
    (tmp_path / "ab.ts").write_bytes(a + b)
    src = VideoSource(tmp_path / "ab.ts")
    if second != (64, 48):
        with pytest.warns(UserWarning, match=r"changes its frame size mid-stream \(64x48 to \d+x\d+\)"):
            frames = list(src.frames())
    else:
        frames = list(src.frames())
    assert len(frames) == 48 and {f.rgb.shape for f in frames} == {(48, 64, 3)}
    np.testing.assert_allclose([f.time for f in frames], np.arange(48) / 24, atol=2e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (said above)
        _, out = _copy(VideoSource(tmp_path / "ab.ts"), tmp_path / "ab.mp4")
    np.testing.assert_allclose(np.array(frame_times(out)), np.arange(48) / 24, atol=2e-3)
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert float(audio.duration * audio.time_base) == pytest.approx(2.0, abs=0.15)  # 1 s + 1 s


def test_every_audio_track_is_kept_where_the_container_takes_it(tmp_path):
    two = make_clip(tmp_path / "two.mkv", frames=12, audio=2)  # a second audio track: commentary, a language
    src = VideoSource(two)
    assert src.audio_codecs == ["aac", "aac"] and src.extra_streams == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is left out
        _, out = _copy(src, tmp_path / "o.mp4")
    with av.open(str(out)) as c:
        assert [a.codec_context.name for a in c.streams.audio] == ["aac", "aac"]
        assert all(float(a.duration * a.time_base) == pytest.approx(0.5, abs=0.1) for a in c.streams.audio)
    # WebM takes Opus only: the first track is re-encoded, the second cannot come along, and is named
    with pytest.warns(UserWarning, match=r"a \.webm file cannot take from it: 1 audio stream left out"):
        _, out = _copy(VideoSource(two), tmp_path / "o.webm")
    with av.open(str(out)) as c:
        assert [a.codec_context.name for a in c.streams.audio] == ["opus"]


def _with_subtitles(path, cues=((0.1, "hello"), (1.2, "second line"))):
    """A 2-s MKV clip (24 fps) with one SubRip track of ``cues`` (start s, text), each 0.5 s long."""
    from fractions import Fraction

    c = av.open(str(path), "w")
    v = c.add_stream("libx264", rate=24)
    v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
    s = c.add_mux_stream("subrip")
    s.time_base = Fraction(1, 1000)
    pending = list(cues)
    for i in range(48):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 5 * i, np.uint8), format="rgb24")
        frame.pts = i
        for p in v.encode(frame):
            c.mux(p)
        while pending and pending[0][0] <= i / 24:
            t, text = pending.pop(0)
            pk = av.Packet(text.encode())
            pk.stream, pk.time_base = s, Fraction(1, 1000)
            pk.pts = pk.dts = round(t * 1000)
            pk.duration = 500
            c.mux(pk)
    for p in v.encode():
        c.mux(p)
    c.close()
    return path


def _cues(path):
    with av.open(str(path)) as c:
        assert len(c.streams.subtitles) == 1
        s = c.streams.subtitles[0]
        return [(round(float(p.pts * s.time_base), 3), bytes(p).decode()) for p in c.demux(s) if p.size]


def test_subtitles_are_kept_where_the_container_takes_them(tmp_path):
    clip = _with_subtitles(tmp_path / "subs.mkv")
    src = VideoSource(clip)
    assert src.subtitle_codecs[0] in ("subrip", "srt") and src.extra_streams == {}  # (FFmpeg names it either)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is left out
        _, out = _copy(src, tmp_path / "o.mkv")
    assert _cues(out) == [(0.1, "hello"), (1.2, "second line")]
    # a segment: the cues move with the frames, those before it are left out
    part = VideoSource(clip, start=1.0)
    _, out = _copy(part, tmp_path / "part.mkv")
    assert _cues(out) == [(0.2, "second line")]
    # MP4 holds MPEG-4 timed text only: a SubRip track cannot come along, and is named
    with pytest.warns(UserWarning, match=r"a \.mp4 file cannot take from it: 1 subtitle stream left out"):
        _, out = _copy(VideoSource(clip), tmp_path / "o.mp4")
    with av.open(str(out)) as c:
        assert not c.streams.subtitles and len(c.streams.video) == 1
