#!/usr/bin/env python
"""A long video in bounded memory: ``instyle video`` on a clip of many minutes, its resident
memory sampled as it runs, and the output checked for its frame count and audio track.

The clip is made here (nothing committed): a slow pan over a ``../shared`` photo (or a
scikit-image one) at ``--height`` px and 24 fps with a 440 Hz AAC tone, H.264. ``instyle video``
then runs on it as a user runs it (a fresh process, ``--json``), while this script reads the
process's resident set size from ``/proc`` every half second. Streaming means the memory after
the first minute stays flat: the report gives it at each quarter of the run and the growth from
the first quarter to the end.

Usage (from the repository root)::

    python benchmarks/video_long.py                                   # 10 minutes at 1080p
    python benchmarks/video_long.py --max-size 640 --stabilize none   # what the network sees
    python benchmarks/video_long.py --smoke
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner, video

SMOKE = {"minutes": 0.05, "height": 240, "max_size": 320}
FPS = 24


def parse_args(argv: Sequence[str] | None = None):
    p = runner.parser("video_long", "Memory and output of `instyle video` on a clip of many minutes.")
    p.add_argument("--minutes", type=float, default=10.0, help="clip length (default 10)")
    p.add_argument("--height", type=int, default=1080, help="clip height, 16:9 (default 1080)")
    p.add_argument("--max-size", type=int, default=1920, help="`instyle video --max-size` (default 1920)")
    p.add_argument("--stabilize", default="full", help="`instyle video --stabilize` (default full)")
    p.add_argument("--duration", type=float, default=None, help="`instyle video --duration`: seconds to stylize")
    p.add_argument("--clip", type=Path, default=None, help="use this clip instead of making one")
    p.add_argument("--keep-clip", type=Path, default=None, help="save the clip made here to this path")
    runner.add_run_args(p, smoke=SMOKE, threads="OMP/MKL threads of the instyle process (default: its own)")
    return runner.parse_args(p, argv, "video_long", SMOKE, positive=("height", "max_size"))


def make_long_clip(path: Path, minutes: float, height: int, tmp: Path) -> int:
    """Write the clip; returns its frame count. A window pans across a photo twice the clip's
    width, back and forth, one pixel step per frame at most (encoded with x264 ultrafast)."""
    import av
    import numpy as np
    from PIL import Image

    width = round(height * 16 / 9) // 2 * 2
    found = inputs.find_image(inputs.SHARED_IMAGES / "content", "adain_golden_gate.jpg")
    photo = Image.open(found or inputs.sample_photos(1, tmp / "photos")[0]).convert("RGB")
    big = np.asarray(photo.resize((width * 2, max(height + 2, round(width * 2 * photo.height / photo.width)))))
    n = max(2, round(minutes * 60 * FPS))
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.options = {"crf": "26", "preset": "ultrafast"}
        a = c.add_stream("aac", rate=44100)
        for i in range(n):
            s = (i % 480) / 480
            x = round((width - 1) * (s * 2 if s < 0.5 else 2 - s * 2))
            y = (big.shape[0] - height) // 2
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(big[y : y + height, x : x + width]), "rgb24")
            for packet in v.encode(frame):
                c.mux(packet)
        for packet in v.encode():
            c.mux(packet)
        samples = round(44100 * n / FPS)
        t = np.arange(samples) / 44100
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, samples, 1024):
            af = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="flt", layout="mono")
            af.sample_rate = 44100
            for packet in a.encode(af):
                c.mux(packet)
        for packet in a.encode():
            c.mux(packet)
    return n


def streams(path: Path) -> dict[str, Any]:
    """Video packets (= frames) and the audio track's seconds of a file, by demuxing (no decoding)."""
    import av

    with av.open(str(path)) as c:
        audio = c.streams.audio[0] if c.streams.audio else None
        seconds = float(audio.duration * audio.time_base) if audio is not None and audio.duration else None
        codec = audio.codec_context.name if audio is not None else None
        frames = sum(1 for p in c.demux(video=0) if p.size)
    return {"frames": frames, "audio_s": seconds, "audio_codec": codec}


def run_sampled(cmd: list[str], env: dict[str, str], every: float = 0.5) -> dict[str, Any]:
    """Run ``cmd``, sampling its RSS; (returncode, wall_s, samples [(t, MiB)], stdout, stderr tail)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        samples = []
        while proc.poll() is None:
            mb = runner.current_rss_mb(proc.pid)
            if mb is not None:
                samples.append((time.perf_counter() - t0, mb))
            time.sleep(every)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return {
            "returncode": proc.returncode,
            "wall_s": wall,
            "samples": samples,
            "stdout": out.read(),
            "stderr": err.read()[-2000:],
        }


def quarters(samples, wall: float) -> dict[str, float | None]:
    """RSS at 25/50/75/100 % of the run (the last sample before each point)."""
    out: dict[str, float | None] = {}
    for q in (25, 50, 75, 100):
        before = [mb for t, mb in samples if t <= wall * q / 100]
        out[f"rss_{q}pct_mb"] = before[-1] if before else None
    return out


def main(argv: Sequence[str] | None = None) -> int:
    import json

    args = parse_args(argv)
    report = runner.new_report(
        "video_long",
        "Does `instyle video` stream a long clip in bounded memory, keeping its frames and audio?",
        settings={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "json"},
    )
    with tempfile.TemporaryDirectory(prefix="instyle-bench-video-long-") as tmpdir:
        tmp = Path(tmpdir)
        clip = args.clip or args.keep_clip or tmp / "long.mp4"
        made_s = None
        if args.clip is None:
            t = time.perf_counter()
            make_long_clip(clip, args.minutes, args.height, tmp)
            made_s = time.perf_counter() - t
        source = streams(clip)
        out = tmp / "styled.mp4"
        duration = ["--duration", str(args.duration)] if args.duration else []
        options = ["--json", "--max-size", str(args.max_size), "--stabilize", args.stabilize, *duration]
        cmd = video.instyle_video_cmd(clip, out, *options)
        run = run_sampled(cmd, runner.worker_env(args.threads))
        row: dict[str, Any] = {
            "clip": f"{source['frames']} frames, {args.height}p",
            "frames in": source["frames"],
            "frames expected": source["frames"]
            if not args.duration
            else min(source["frames"], round(args.duration * FPS)),
            "audio in s": source["audio_s"],
            "wall s": run["wall_s"],
            "peak rss MiB": max((mb for _, mb in run["samples"]), default=None),
            **quarters(run["samples"], run["wall_s"]),
        }
        if run["returncode"] == 0 and out.is_file():
            result = streams(out)
            info = json.loads(run["stdout"])
            row.update(
                {
                    "frames out": result["frames"],
                    "audio out s": result["audio_s"],
                    "audio": info.get("audio"),
                    "fps": result["frames"] / run["wall_s"],
                    "input size": "x".join(map(str, info.get("size", []))),
                }
            )
            q25, q100 = row.get("rss_25pct_mb"), row.get("rss_100pct_mb")
            row["growth 25%->end MiB"] = None if q25 is None or q100 is None else q100 - q25
        else:
            row["error"] = run["stderr"].strip().splitlines()[-1:] or ["failed"]
        report["rows"] = [row]
        report["clip_made_s"] = made_s
        report["rss_samples"] = run["samples"][:: max(1, len(run["samples"]) // 400)]
    runner.finish_report(report, args.json)
    print(
        runner.format_table(
            [row],
            [
                "clip",
                "input size",
                "frames in",
                "frames expected",
                "frames out",
                "audio in s",
                "audio out s",
                "audio",
                "wall s",
                "fps",
                "peak rss MiB",
                "rss_25pct_mb",
                "rss_50pct_mb",
                "rss_75pct_mb",
                "rss_100pct_mb",
                "growth 25%->end MiB",
            ],
            float_fmt=".4g",
        )
    )
    runner.print_notes(report["notes"], args.json)
    ok = run["returncode"] == 0 and row.get("frames out") == row["frames expected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
