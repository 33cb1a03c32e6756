"""A long video split over Ray actors (``instyle video IN -o OUT --ray [ADDRESS] [--workers N]``).

The steps are :mod:`instyle.video.segments`'s: the actors scan the clip in chunks side by side
(frame times, keyframes, scene cuts, the camera's steps), the driver plans the parts (at scene
cuts, else at keyframes, with a warm-up), the actors stylize one part each at a time, each loading
the network once, single-threaded, and send back the part's video as bytes (so the nodes need not
share the output's folder; the input must be readable at its path on every node). The driver
writes the parts to a hidden folder next to the output and joins them in order into the output,
with the source's audio and subtitles and every frame's time, without re-encoding; the output
appears whole or not at all (an error or Ctrl-C removes the parts and the half-joined file).

Ray's start and connection, and where its own notes go, are :mod:`instyle.cli.cluster`'s.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..errors import InstyleError, UsageError, one_line
from . import cluster, common, methods

#: Parts longer than this (s) are split further, beyond one per worker: a lost worker costs less
#: and the parts' bytes in flight stay small.
MAX_PART_SECONDS = 120.0


@dataclass
class Job:
    """What every actor needs to stylize any part as the local run would."""

    args: argparse.Namespace
    method: str
    backend: str
    styles: list[str]
    weights: list[float]
    config: Any  # StabilizeConfig
    shared: bool
    in_call: bool
    lag: int  # the statistics' lag of a local run on the driver's machine (frames painted at once there)
    clip: Any  # segments.Clip


class _Worker:
    """A Ray actor: the network loaded once, then chunks to scan and parts to stylize, each a
    generator that yields progress (frames done, an int) and lastly its result."""

    def __init__(self, job: Job):
        cluster._one_thread()
        self.job = job
        build = methods.fast if job.method == "fast" else methods.adain
        self.painter = build(job.args, job.backend, job.styles, job.weights, threads=1, shared_statistics=job.shared)

    def _video(self):
        from ..video import VideoStylizer

        return VideoStylizer(
            self.painter,
            self.job.config,
            grid=self.painter.grid,
            workers=self.job.lag,
            statistics_in_call=self.job.in_call,
        )

    def scan(self, begin: float, end: float | None):
        from ..video import segments

        scanning = segments.Scanning(self.job.clip, self._video(), begin, end)
        last, done = time.monotonic(), 0
        for done in scanning:
            if time.monotonic() - last > 0.5:
                last = time.monotonic()
                yield done
        yield done
        yield scanning.found

    def paint(self, part, times):
        from ..video import VideoSink, segments

        args, job = self.job.args, self.job
        with tempfile.TemporaryDirectory(prefix="instyle-part-") as tmp:
            path = Path(tmp) / f"part{Path(args.output).suffix.lower()}"
            sink = VideoSink(
                path,
                job.clip.open(),
                codec=args.codec,
                crf=args.crf,
                pix_fmt=args.pix_fmt,
                overwrite=True,
                segment=True,
            )
            last = time.monotonic()
            done = 0
            for done in segments.stylize_part(job.clip, times, part, self._video(), sink):
                if time.monotonic() - last > 0.5:
                    last = time.monotonic()
                    yield done
            yield done
            yield path.read_bytes()


def _actor_class(job: Job) -> type:
    """:class:`_Worker` with the job bound (shipped with the class, as :func:`cluster._actor_class` does)."""

    class Worker(_Worker):
        def __init__(self) -> None:
            super().__init__(job)

    return Worker


def _drive(
    calls: list[Callable[[Any], Any]],
    actors: list,
    on_progress: Callable[[int, int], None],
    on_result: Callable[[int, Any], None],
) -> None:
    """Run ``calls`` (each: actor -> the generator of one of its methods) on ``actors``, one at a time
    each, the next call going to the first actor free; ints the generators yield go to
    ``on_progress(call, frames done)``, anything else to ``on_result(call, value)``."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    queue = deque(range(len(calls)))
    free = list(actors)
    live: dict[Any, tuple[int, Any]] = {}
    while queue or live:
        while queue and free:
            i, actor = queue.popleft(), free.pop(0)
            live[calls[i](actor)] = (i, actor)
        ready, _ = ray.wait(list(live), num_returns=1, timeout=1.0)
        for gen in ready:
            i, actor = live[gen]
            try:
                value = ray.get(next(cast(Any, gen)))
            except StopIteration:
                del live[gen]
                free.append(actor)
                continue
            except RayTaskError as exc:  # the worker's own error, one line, not Ray's wrapping
                cause = getattr(exc, "cause", None)
                if isinstance(cause, InstyleError):
                    raise cause from None
                raise
            except RayError as exc:  # a worker lost past its retries, the cluster gone
                raise InstyleError(f"a Ray worker failed: {one_line(exc)}") from None
            if isinstance(value, int):
                on_progress(i, value)
            else:
                on_result(i, value)


def _call(method: str, *args: Any) -> Callable[[Any], Any]:
    """actor -> the generator of ``actor.method(*args)`` on Ray."""
    return lambda actor: getattr(actor, method).remote(*args)


def _kill(actors: list[Any]) -> None:
    if not actors:
        return
    import ray

    for actor in actors:
        with contextlib.suppress(Exception):
            ray.kill(actor)
    actors.clear()


class _Progress:
    """One bar over calls that each report their own count so far (a retried call starts again)."""

    def __init__(self, total: int | None, desc: str, quiet: bool):
        self.bar = common.progress(total, desc, quiet, unit="frame")
        self.counts: dict[int, int] = {}
        self.shown = 0

    def __call__(self, call: int, done: int) -> None:
        self.counts[call] = max(done, self.counts.get(call, 0))
        now = sum(self.counts.values())
        if now > self.shown:
            self.bar.update(now - self.shown)
            self.shown = now

    def close(self) -> None:
        self.bar.close()


def run(args: argparse.Namespace) -> int:
    """``instyle video --ray``: scan, plan, stylize the parts on the actors, join; a summary at the end."""
    from ..atomic import first_missing, temp_prefix
    from ..pipeline import cores
    from ..video import VideoSink, segments
    from .video_cmd import setup, summary

    s = setup(args)
    source = s.source
    if source.folder:
        raise UsageError("--ray splits a video file; give a file, not a folder of frames")
    out = Path(args.output)
    if str(args.output).endswith(os.sep) or out.is_dir():
        raise UsageError("--ray writes a video file; give -o a file (.mp4, .mkv, .mov, .webm, .avi)")
    sink = VideoSink(out, source, codec=args.codec, crf=args.crf, pix_fmt=args.pix_fmt, overwrite=args.overwrite)
    # the network built here once too: a style it lacks or a file it cannot read is one line now,
    # before Ray starts, not an actor that cannot start
    build = methods.fast if s.method == "fast" else methods.adain
    _ = build(args, s.backend, s.styles, s.weights, threads=1, shared_statistics=s.shared).grid
    workers = args.workers or cores()
    clip = segments.Clip(args.input, args.start, args.duration, args.max_size, args.fps)
    job = Job(args, s.method, s.backend, s.styles, s.weights, s.config, s.shared, s.in_call, s.workers, clip)
    log = os.path.join(tempfile.gettempdir(), f"instyle-ray-{os.getpid()}.log")
    made = first_missing(out.parent)
    parts_dir: Path | None = None
    actors: list[Any] = []
    t0 = time.perf_counter()
    try:
        with cluster.native_logs_to(log):  # Ray's own C++ notes: to a file, not the terminal
            import ray

            cluster.connect(args.ray, workers)
            t_ray = time.perf_counter()
            # a restarted actor takes a lost worker's call again (its chunk or part starts over)
            actor: Any = ray.remote(num_cpus=1, max_restarts=3, max_task_retries=3)(_actor_class(job))
            actors += [actor.remote() for _ in range(workers)]

            # 1. scan, in one chunk per worker (the header's length splits the clip; without one, whole)
            length = source.length
            chunks = workers if length and length > workers * 2 * segments.SCAN_MARGIN else 1
            bounds = [length * k / chunks if length else 0.0 for k in range(chunks)] + [None]
            found_chunks: dict[int, Any] = {}
            progress = _Progress(source.frames_hint, "video (ray): scan", args.quiet)
            try:
                _drive(
                    [_call("scan", b, e) for b, e in itertools.pairwise(bounds)],
                    actors,
                    progress,
                    found_chunks.__setitem__,
                )
            finally:
                progress.close()
            found = segments.Scan.join([found_chunks[k] for k in range(chunks)])
            t_scan = time.perf_counter()

            # 2. plan: one part per worker, more for a long clip
            seconds = float(found.times[-1]) if len(found) > 1 else 0.0
            parts = workers * max(1, math.ceil(seconds / (workers * MAX_PART_SECONDS)))
            align = s.config.motion and s.config.align
            plan = segments.plan(found, parts, round(args.warm_up * source.fps), align=align)

            # 3. stylize the parts, biggest first; each arrives as bytes and waits in a hidden folder
            out.parent.mkdir(parents=True, exist_ok=True)
            parts_dir = Path(
                tempfile.mkdtemp(prefix=temp_prefix(out.parent, out.name), suffix=".parts", dir=out.parent)
            )
            files: dict[int, Path] = {}

            def arrived(call: int, data: bytes) -> None:
                assert parts_dir is not None
                path = parts_dir / f"part{plan[call].index:05d}{out.suffix.lower()}"
                path.write_bytes(data)
                files[call] = path

            times = ray.put(found.times)
            order = sorted(range(len(plan)), key=lambda k: -(plan[k].frames + plan[k].warm))
            progress = _Progress(len(found), "video (ray)", args.quiet)
            try:
                _drive(
                    [_call("paint", plan[k], times) for k in order],
                    actors,
                    lambda call, done: progress(order[call], done),
                    lambda call, data: arrived(order[call], data),
                )
            finally:
                progress.close()
            t_paint = time.perf_counter()
            _kill(actors)

        # 4. join, in order, with the audio
        for k, part in enumerate(plan):
            sink.append_encoded(files[k], found.times[part.first : part.end])
        written = sink.close()
    except BaseException:
        _kill(actors)  # (a cluster the caller started gets its CPUs back)
        sink.abort()
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise
    finally:
        if parts_dir is not None:
            shutil.rmtree(parts_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.remove(log)  # kept only when the run stopped with an error
    wall = time.perf_counter() - t0
    result = {
        **summary(args, s, sink, written, wall),
        "scene_cuts": int(found.cuts[1:].sum()),
        "ray": args.ray,
        "workers": workers,
        "parts": [
            {
                "first": p.first,
                "frames": p.frames,
                "warm_up": p.warm,
                "at": "start"
                if p.first == 0
                else "scene cut"
                if found.cuts[p.first]
                else "keyframe"
                if found.keys[p.first]
                else "frame",
            }
            for p in plan
        ],
        "phases_s": {
            "ray_start": round(t_ray - t0, 2),
            "scan": round(t_scan - t_ray, 2),
            "stylize": round(t_paint - t_scan, 2),
            "join": round(wall - (t_paint - t0), 2),
        },
    }
    if args.json:
        common.emit_json(result)
    elif not args.quiet:
        cuts = sum(p["at"] == "scene cut" for p in result["parts"])
        print(
            f"wrote {result['output']} ({sink.count} frames in {wall:.1f} s, {result['fps']} fps; {len(plan)} "
            f"part{'s' if len(plan) != 1 else ''} on {workers} Ray worker{'s' if workers != 1 else ''}, "
            f"{cuts} split{'s' if cuts != 1 else ''} at scene cuts)"
        )
    return 0
