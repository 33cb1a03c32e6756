"""Small clips made for the video tests (PyAV): moving gradients, optional audio, any frame times."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np


def frame_pattern(i: int, w: int, h: int) -> np.ndarray:
    """(h, w, 3) uint8: a diagonal gradient that moves 2 px a frame, and a bright square."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 3 + yy + 2 * i) % 256, (yy * 4 + i) % 256, ((xx + yy) * 2) % 256], axis=2)
    img[h // 4 : h // 4 + h // 5, (2 * i) % w : (2 * i) % w + w // 6] = 250
    return img.astype(np.uint8)


def make_clip(
    path: Path,
    *,
    frames: int = 24,
    size=(64, 48),
    fps: int = 24,
    audio: bool = False,
    times: Optional[Sequence[float]] = None,
    codec: str = "libx264",
) -> Path:
    """Write a clip; ``times``: the frames' presentation times in seconds (a variable frame rate)."""
    from fractions import Fraction

    import av

    w, h = size
    with av.open(str(path), "w") as c:
        v = c.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.time_base = v.codec_context.time_base = Fraction(1, 1000)
        a = c.add_stream("aac", rate=44100) if audio else None
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(frame_pattern(i, w, h), format="rgb24")
            f.pts = round((times[i] if times else i / fps) * 1000)
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            n = int(44100 * frames / fps)
            t = np.arange(n) / 44100
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="flt", layout="mono")
                af.sample_rate = 44100
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path
