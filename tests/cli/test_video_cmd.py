"""``instyle video``: a clip in, a stabilized clip out (frames, times, audio kept), clean failures."""

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

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("builtin_net")]  # slow: networks on every frame


def test_video_keeps_frames_times_and_audio(tmp_path, capsys):
    import av

    clip = make_clip(tmp_path / "in ✓.mp4", frames=24, audio=True)
    out = tmp_path / "out ✓.mp4"
    code, stdout, err = run_cli(["video", clip, "--style", "alpha", "-o", out, "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert res["frames"] == 24 and res["audio"] == "copied" and res["stabilize"] == "full" and res["fps"] > 0
    assert res["model"] == "builtin"  # the stand-in serves video too (conftest)
    np.testing.assert_allclose(frame_times(out), np.arange(24) / 24, atol=2e-3)
    with av.open(str(out)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        assert (c.streams.video[0].width, c.streams.video[0].height) == (64, 48)


@pytest.mark.parametrize(
    "extra",
    [
        ["--stabilize", "none"],
        ["--stabilize", "stats"],
        ["--stabilize", "flow"],
        ["--style", "beta:0.5", "--color", "luminance"],
        ["--start", "0.25", "--duration", "0.25", "--max-size", "32"],
        ["--blend", "0.5", "--tolerance", "0.3", "--pix-fmt", "yuv444p"],
        ["--flow-check", "both-ways"],
        ["--flow-check", "colour"],  # the old spelling of color
    ],
)
def test_options(tmp_path, capsys, extra):
    clip = make_clip(tmp_path / "c.mp4", frames=12)
    out = tmp_path / "o.mkv"
    code, stdout, err = run_cli(["video", clip, "--style", "alpha", *extra, "-o", out, "--json", "-q"], capsys)
    assert code == 0, err
    frames = json.loads(stdout)["frames"]
    assert frames == (6 if "--start" in extra else 12) and out.is_file()


def test_frames_folder_in_and_out(tmp_path, capsys):
    src = write_frames(tmp_path / "frames in", 5, (40, 30))
    code, _, err = run_cli(["video", src, "--style", "gamma", "-o", str(tmp_path / "frames out") + "/", "-q"], capsys)
    assert code == 0, err
    written = sorted(p.name for p in (tmp_path / "frames out").iterdir())
    assert written == [f"frame_{i:06d}.png" for i in range(1, 6)]


def test_built_in_styles_use_the_video_network_where_one_is_shipped(tmp_path, capsys):
    from PIL import Image

    from instyle import shipped

    # another network with the stand-in's styles
    video_net = tiny_fast_net(tmp_path / "video.safetensors", ("alpha", "beta", "gamma"), seed=1)
    src = write_frames(tmp_path / "in", 3, (40, 30))

    def frames(*extra):
        out = tmp_path / f"out {' '.join(map(str, extra)).replace('/', '_')}"
        code, _, err = run_cli(["video", src, "--style", "beta", "-o", str(out) + "/", "-q", *extra], capsys)
        assert code == 0, err
        return [np.asarray(Image.open(p)) for p in sorted(out.iterdir())]

    with shipped.use_assets({shipped.VIDEO_MODEL: video_net}):  # (the stand-in ships none)
        assert shipped.has_video_model()
        default, chosen, stills = frames(), frames("--model", video_net), frames("--model", "builtin")
    assert all(np.array_equal(a, b) for a, b in zip(default, chosen))
    assert not any(np.array_equal(a, b) for a, b in zip(default, stills))


@pytest.mark.parametrize("arch", ["vgg", "light"])
def test_adain_video(tmp_path, capsys, light_net, arch):
    from PIL import Image

    style = tmp_path / "style.png"
    Image.fromarray((np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)).save(style)
    clip = make_clip(tmp_path / "c.mp4", frames=4, size=(32, 32))
    code, stdout, err = run_cli(
        [
            "video",
            clip,
            "--style",
            style,
            "--alpha",
            "0.5",
            "--style-size",
            "32",
            "-o",
            tmp_path / "o.mp4",
            "--json",
            "--precision",
            "fp32",
            "--arch",
            arch,
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(stdout)["method"] == "adain"


@pytest.mark.parametrize(
    "case",
    [
        "audio-only",
        "image",
        "truncated",
        "truncated-faststart",
        "truncated-mkv",
        "exists",
        "bad-extension",
        "webm-h264",
        "mov-vp9",
        "onnx-with-stats",
        "mpeg4-444",
        "blend-1",
    ],
)
def test_failures_are_one_line_and_leave_nothing(tmp_path, capsys, case):
    from PIL import Image

    clip = make_clip(tmp_path / "c.mp4", frames=48, size=(128, 96))
    out = tmp_path / "out" / "o.mp4"
    extra = []
    if case == "audio-only":
        import av

        clip = tmp_path / "a.m4a"
        with av.open(str(clip), "w", format="mp4") as c:
            a = c.add_stream("aac", rate=44100)
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
            f.sample_rate = 44100
            for p in [*a.encode(f), *a.encode()]:
                c.mux(p)
    elif case == "image":
        clip = tmp_path / "p.jpg"
        Image.new("RGB", (20, 20)).save(clip)
    elif case == "truncated":
        data = clip.read_bytes()
        clip = tmp_path / "t.mp4"
        clip.write_bytes(data[: len(data) // 2])
    elif case in ("truncated-faststart", "truncated-mkv"):  # the demuxer just stops: told by the header's length
        import av

        whole = tmp_path / ("w.mkv" if case == "truncated-mkv" else "w.mp4")
        with av.open(str(clip)) as i, av.open(str(whole), "w", options={"movflags": "faststart"}) as o:
            stream = o.add_stream_from_template(i.streams.video[0])
            for packet in i.demux(i.streams.video[0]):
                if packet.dts is not None:
                    packet.stream = stream
                    o.mux(packet)
        data = whole.read_bytes()
        whole.unlink()
        clip = tmp_path / f"t{whole.suffix}"
        clip.write_bytes(data[: len(data) // 2])
    elif case in ("webm-h264", "mov-vp9"):  # refused before any work, not by the muxer at the end
        out = tmp_path / "out" / ("o.webm" if case == "webm-h264" else "o.mov")
        extra = ["--codec", "libx264" if case == "webm-h264" else "libvpx-vp9"]
    elif case == "exists":
        out.parent.mkdir()
        out.write_bytes(b"mine")
    elif case == "bad-extension":
        out = tmp_path / "out" / "o.gif"
    elif case == "mpeg4-444":
        extra = ["--codec", "mpeg4", "--pix-fmt", "yuv444p"]
    elif case == "blend-1":  # the past alone would never let the present in: refused, not clamped
        extra = ["--blend", "1"]
    else:  # the network for stills has no ONNX copy that shares statistics (--stabilize full)
        extra = ["--backend", "onnxruntime", "--model", "builtin"]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    style = "candy" if case == "onnx-with-stats" else "alpha"
    code, _, err = run_cli(["video", clip, "--style", style, "-o", out, *extra], capsys)
    assert code in (1, 2) and err.count("\n") == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    if case == "exists":
        assert out.read_bytes() == b"mine"
