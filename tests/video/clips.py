"""Small clips made for the video tests (PyAV): moving gradients, optional audio, any frame times."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def frame_pattern(i: int, w: int, h: int) -> np.ndarray:
    """(h, w, 3) uint8: a diagonal gradient that moves 2 px a frame, and a bright square."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 3 + yy + 2 * i) % 256, (yy * 4 + i) % 256, ((xx + yy) * 2) % 256], axis=2)
    img[h // 4 : h // 4 + h // 5, (2 * i) % w : (2 * i) % w + w // 6] = 250
    return img.astype(np.uint8)


def write_frames(
    folder: Path, n: int, size=(64, 48), *, frame: Callable[[int, int, int], np.ndarray] = frame_pattern
) -> Path:
    """A folder of frames: ``frame(i, w, h)`` (default :func:`frame_pattern`) for i = 0 .. n - 1 saved
    as ``f000.png``, ``f001.png``... in ``folder`` (created); returns the folder."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(frame(i, *size)).save(folder / f"f{i:03d}.png")
    return folder


def make_clip(
    path: Path,
    *,
    frames: int = 24,
    size=(64, 48),
    fps: int = 24,
    audio: int = 0,
    times: Sequence[float] | None = None,
    codec: str = "libx264",
    time_base: int = 1000,
    cut: int | None = None,
    gop: int | None = None,
) -> Path:
    """Write a clip. ``audio``: how many audio tracks (True: one); ``times``: the frames'
    presentation times in seconds (a variable frame rate); ``time_base``: ticks per second asked of
    the container (MKV keeps 1000, MOV and MP4 take it as their timescale, MPEG-TS is 90000);
    ``cut``: the frame from which a darker scene, moving twice as fast, follows (a scene cut);
    ``gop``: frames from one keyframe to the next (default: the encoder's)."""
    from fractions import Fraction

    import av

    w, h = size
    # MP4/MOV muxers pick their own timescale unless told (phone clips use 600)
    options = {"video_track_timescale": str(time_base)} if str(path).endswith((".mov", ".mp4")) else {}
    with av.open(str(path), "w", options=options) as c:
        v = c.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.time_base = v.codec_context.time_base = Fraction(1, time_base)
        if gop:
            v.options = {"g": str(gop)}
        rate = 48000 if str(path).endswith(".webm") else 44100  # WebM holds Opus, which runs at 48 kHz
        tracks = [c.add_stream("libopus" if rate == 48000 else "aac", rate=rate) for _ in range(int(audio))]
        for i in range(frames):
            img = frame_pattern(i, w, h) if cut is None or i < cut else frame_pattern(2 * i, w, h) // 4 + 20
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = round((times[i] if times else i / fps) * time_base)
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        for k, a in enumerate(tracks):  # a tone (440 Hz, then 660 Hz for a second track...)
            n = int(rate * frames / fps)
            t = np.arange(n) / rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * (1 + k / 2) * t)).astype(np.float32)
            for start in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="flt", layout="mono")
                af.sample_rate = rate
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path
