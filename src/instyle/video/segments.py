"""A long video stylized in parts, each on its own worker, then joined: the same frames as one run.

Three steps (``instyle video --ray`` runs them on Ray actors, :mod:`instyle.cli.video_cluster`):

1. :func:`scan`: every frame's time, whether it is a keyframe, whether it starts a new shot
   (:class:`~instyle.video.stabilize.SceneCuts`) and how far the camera moved from the frame before
   (the grid alignment's step), from the input alone, in chunks of the clip scanned side by side.
   The same :meth:`VideoStylizer.analyze <instyle.video.stylizer.VideoStylizer.analyze>` on the same
   frames as one run: the same cuts and the same camera steps, to the bit.
2. :func:`plan`: where to split. At a scene cut where one lies near an even split, since a run over
   the whole video forgets everything there: a part that starts at a cut, from nothing, gives the
   very frames the whole run gives. Elsewhere at a keyframe near the even split (decoding starts
   there), with a **warm-up**: the part's worker first stylizes the frames before its first (up to
   the shot's start) and throws them away, so the statistics' average and the previous output are
   primed, and its grid starts at the phase the whole run has there (the camera's steps summed
   from the shot's start: :meth:`VideoStylizer.continue_shot
   <instyle.video.stylizer.VideoStylizer.continue_shot>`), so the texture does not jump at the join.
3. :func:`stylize_part` writes each part as a video-only file (:class:`~instyle.video.io.VideoSink`
   with ``segment=True``); :meth:`VideoSink.append_encoded <instyle.video.io.VideoSink.append_encoded>`
   joins them in order with the source's audio and subtitles and every frame's own time, without
   re-encoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..errors import RAY, InstyleError, quoted
from .io import DEFAULT_FPS, Frame, VideoSink, VideoSource
from .stylizer import VideoStylizer

#: Two frame times closer than this (s) are the same frame (times found by different decoders:
#: seeking from elsewhere sums them differently, by far less).
SAME_TIME = 1e-4

#: How far before a chunk's first frame :func:`scan` seeks, to find the frame before it (s).
SCAN_MARGIN = 1.0


@dataclass(frozen=True)
class Clip:
    """The input of a video job as ``instyle video`` reads it (path, ``start``, ``duration``,
    ``max_size``, ``fps``), opened from any point: times are seconds from the job's first frame."""

    path: str
    start: float | None = None
    duration: float | None = None
    max_size: int | None = None
    fps: float = DEFAULT_FPS

    def open(self, at: float = 0.0) -> VideoSource:
        """The job's frames from ``at`` s on (seeking to it), to the job's end."""
        begin = (self.start or 0.0) + at
        duration = None if self.duration is None else max(self.duration - at, 1e-9)
        return VideoSource(self.path, start=begin or None, duration=duration, max_size=self.max_size, fps=self.fps)


@dataclass
class Scan:
    """What :func:`scan` found, one entry per frame of the job (or of a chunk of it).

    Attributes:
        times: (N,) s from the job's first frame.
        keys: (N,) whether each frame is a keyframe.
        cuts: (N,) whether each frame starts a new shot (the job's first frame does).
        camera: (N, 2) float64: the camera's step from the frame before, (dx, dy) px, as the grid
            alignment adds it (zero where it adds none: at a shot's start, or without alignment).
    """

    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    cuts: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    camera: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def join(cls, chunks: list[Scan]) -> Scan:
        """Chunks scanned apart, in order, as one scan (their frames must follow on)."""
        chunks = [c for c in chunks if len(c)]
        if not chunks:
            raise InstyleError("the video has no frames in the segment asked for")
        out = cls(
            np.concatenate([c.times for c in chunks]),
            np.concatenate([c.keys for c in chunks]),
            np.concatenate([c.cuts for c in chunks]),
            np.concatenate([c.camera for c in chunks]),
        )
        if len(out) > 1 and not np.all(np.diff(out.times) > SAME_TIME):
            raise InstyleError("the video's frame times do not rise steadily; stylize it {ray}", ray=RAY)
        return out

    def shifts(self) -> np.ndarray:
        """(N, 2): the grid alignment's sum of camera steps at each frame (zero at a shot's start),
        added up in stream order as one run adds them (so the same to the bit)."""
        out = np.zeros((len(self), 2))
        shift = np.zeros(2)
        for i in range(len(self)):
            if self.cuts[i]:
                shift = np.zeros(2)
            else:
                shift += self.camera[i]
            out[i] = shift
        return out


def scan(clip: Clip, video: VideoStylizer, begin: float = 0.0, end: float | None = None) -> Scan:
    """The frames of ``clip`` from ``begin`` s (inclusive) to ``end`` s (exclusive; None: the end),
    analyzed by ``video`` (a fresh :class:`VideoStylizer` with the job's settings; its network is not
    run): see :class:`Scan`. (:class:`Scanning` does the same, reporting progress.)"""
    scanning = Scanning(clip, video, begin, end)
    for _ in scanning:
        pass
    return scanning.found


class Scanning:
    """:func:`scan` as an iteration that yields the frames scanned so far after each; then
    :attr:`found` holds the :class:`Scan`. The frame before ``begin`` is analyzed first, so the
    chunk's first frame is told a cut and given its camera step as in a run over the whole clip."""

    def __init__(self, clip: Clip, video: VideoStylizer, begin: float = 0.0, end: float | None = None):
        self.clip, self.video, self.begin, self.end = clip, video, begin, end
        self.found = Scan()

    def __iter__(self) -> Iterator[int]:
        clip, video, begin, end = self.clip, self.video, self.begin, self.end
        at = max(0.0, begin - SCAN_MARGIN)
        times: list[float] = []
        keys: list[bool] = []
        cuts: list[bool] = []
        camera: list[np.ndarray] = []
        before: Frame | None = None
        started = False
        for frame in clip.open(at).frames():
            t = frame.time + at
            if t < begin - SAME_TIME:
                before = frame
                continue
            if end is not None and t >= end - SAME_TIME:
                break
            if not started:
                if begin > 0 and before is None:
                    raise InstyleError(
                        f"cannot read video {quoted(clip.path)}: seeking to {begin:.2f} s finds no frame before it"
                    )
                if before is not None:
                    video.analyze(before.rgb)
                started = True
            motion = video.analyze(frame.rgb)
            times.append(t)
            keys.append(frame.key)
            cuts.append(motion.new_shot)
            camera.append(np.zeros(2) if motion.camera is None else np.asarray(motion.camera, np.float64))
            yield len(times)
        self.found = Scan(np.array(times), np.array(keys, bool), np.array(cuts, bool), np.array(camera).reshape(-1, 2))


@dataclass(frozen=True)
class Part:
    """Frames ``first`` to ``end`` (exclusive) of the job, stylized after ``warm`` frames before
    them (thrown away); ``shift``: the grid alignment's sum at the first frame stylized (None: it
    starts a shot, or no alignment)."""

    index: int
    first: int
    end: int
    warm: int = 0
    shift: tuple[float, float] | None = None

    @property
    def frames(self) -> int:
        return self.end - self.first


def plan(found: Scan, parts: int, warm_up: int, *, slack: float = 0.15, align: bool = True) -> list[Part]:
    """Split the job's frames into up to ``parts`` parts of about equal length: each split at the
    scene cut nearest the even split within ``slack`` of a part's length, else at the keyframe
    nearest it within that, else at the even split itself. A part that does not start at a cut gets
    ``warm_up`` frames of warm-up (fewer where its shot began closer than that: it then starts at
    the shot's start, like the whole run, and its frames are the whole run's). ``align``: the grid
    alignment is on (parts then carry their shift)."""
    n = len(found)
    if n == 0:
        raise InstyleError("the video has no frames in the segment asked for")
    parts = max(1, min(parts, n))
    reach = slack * n / parts
    cuts = np.flatnonzero(found.cuts)
    keys = np.flatnonzero(found.keys)
    splits: list[int] = []
    for k in range(1, parts):
        even = k * n / parts
        at = round(even)
        for candidates in (cuts, keys):
            near = candidates[(np.abs(candidates - even) <= reach) & (candidates > 0)]
            if len(near):
                at = int(near[np.argmin(np.abs(near - even))])
                break
        if 0 < at < n and (not splits or at > splits[-1]):
            splits.append(at)
    shifts = found.shifts() if align else None
    out = []
    for index, (first, end) in enumerate(zip([0, *splits], [*splits, n])):
        warm = 0
        if first > 0 and not found.cuts[first]:
            shot = int(cuts[cuts <= first].max()) if np.any(cuts <= first) else 0
            warm = min(warm_up, first - shot)
        shift = None
        if shifts is not None and warm and not found.cuts[first - warm]:
            shift = (float(shifts[first - warm][0]), float(shifts[first - warm][1]))
        out.append(Part(index, first, end, warm, shift))
    return out


def part_frames(clip: Clip, times: np.ndarray, part: Part) -> Iterator[Frame]:
    """The frames of ``part`` with its warm-up before them, decoded from the warm-up's first
    (seeking): each with its time in the part (s from the part's first frame) and its index in the
    part (negative in the warm-up). ``times``: the job's frame times (:attr:`Scan.times`)."""
    start = part.first - part.warm
    at = float(times[start])
    g = start
    for frame in clip.open(at).frames():
        if g >= part.end:
            return
        if abs(frame.time + at - times[g]) > SAME_TIME:
            raise InstyleError(
                f"cannot read video {quoted(clip.path)}: seeking to {at:.3f} s finds a frame at "
                f"{frame.time + at:.3f} s, not {times[g]:.3f} s; stylize it {{ray}}",
                ray=RAY,
            )
        yield Frame(rgb=frame.rgb, time=float(times[g] - times[part.first]), index=g - part.first, key=frame.key)
        g += 1
    if g < part.end:
        raise InstyleError(f"cannot read video {quoted(clip.path)}: it ends at frame {g} of {part.end}")


def stylize_part(clip: Clip, times: np.ndarray, part: Part, video: VideoStylizer, sink: VideoSink) -> Iterator[int]:
    """Stylize ``part`` with ``video`` (fresh, the job's settings) into ``sink`` (``segment=True``):
    the warm-up frames are stylized and dropped, then the part's frames written at their times in
    the part. Decoding and writing run beside the network (:func:`instyle.pipeline.pipelined`).
    Yields the count of frames written so far after each frame (progress); the sink is closed at
    the end (aborted on an error)."""
    from ..pipeline import pipelined

    if part.shift is not None:
        video.continue_shot(part.shift)

    def read(frame: Frame):
        return frame, video.analyze(frame.rgb)

    def paint(data):
        return video.paint(data[0].rgb, data[1])

    def finish(frame: Frame, data, painted) -> None:
        out = video.finish(painted, data[1])
        if frame.index >= 0:  # (the warm-up's frames only prime the past)
            sink.write(frame, out)

    try:
        for _ in pipelined(part_frames(clip, times, part), read, paint, finish):
            yield sink.count
        sink.close()
    except BaseException:
        sink.abort()
        raise
